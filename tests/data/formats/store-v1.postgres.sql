--
-- PostgreSQL database dump
--

\restrict no0ed0t6tc4PAJGQwBUVEOiwjC9Pci2fCJB9yaMIOQTcsnU3EoE6A5gx5E6HCXH

-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: eventsvc_fixture_v1; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA eventsvc_fixture_v1;


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: artifact_refs; Type: TABLE; Schema: eventsvc_fixture_v1; Owner: -
--

CREATE TABLE eventsvc_fixture_v1.artifact_refs (
    sha256 text NOT NULL,
    "position" bigint NOT NULL
);


--
-- Name: artifacts; Type: TABLE; Schema: eventsvc_fixture_v1; Owner: -
--

CREATE TABLE eventsvc_fixture_v1.artifacts (
    sha256 text NOT NULL,
    media_type text NOT NULL,
    data bytea NOT NULL
);


--
-- Name: events; Type: TABLE; Schema: eventsvc_fixture_v1; Owner: -
--

CREATE TABLE eventsvc_fixture_v1.events (
    "position" bigint,
    stream text NOT NULL,
    version bigint NOT NULL,
    event_id text NOT NULL,
    tag text NOT NULL,
    schema_version bigint NOT NULL,
    recorded_at bigint,
    data text NOT NULL,
    metadata text NOT NULL,
    hash bytea,
    batch bigint NOT NULL,
    CONSTRAINT events_sealed_whole CHECK (((("position" IS NULL) = (hash IS NULL)) AND (("position" IS NULL) = (recorded_at IS NULL))))
);


--
-- Name: events_batch; Type: SEQUENCE; Schema: eventsvc_fixture_v1; Owner: -
--

CREATE SEQUENCE eventsvc_fixture_v1.events_batch
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: eventsvc_schema; Type: TABLE; Schema: eventsvc_fixture_v1; Owner: -
--

CREATE TABLE eventsvc_fixture_v1.eventsvc_schema (
    version bigint NOT NULL
);


--
-- Name: leases; Type: TABLE; Schema: eventsvc_fixture_v1; Owner: -
--

CREATE TABLE eventsvc_fixture_v1.leases (
    name text NOT NULL,
    epoch bigint NOT NULL,
    holder text NOT NULL,
    holder_pid integer,
    expires_at timestamp with time zone NOT NULL
);


--
-- Name: projection_checkpoints; Type: TABLE; Schema: eventsvc_fixture_v1; Owner: -
--

CREATE TABLE eventsvc_fixture_v1.projection_checkpoints (
    name text NOT NULL,
    "position" bigint NOT NULL
);


--
-- Name: projection_schemas; Type: TABLE; Schema: eventsvc_fixture_v1; Owner: -
--

CREATE TABLE eventsvc_fixture_v1.projection_schemas (
    name text NOT NULL,
    digest text NOT NULL
);


--
-- Name: projection_stalls; Type: TABLE; Schema: eventsvc_fixture_v1; Owner: -
--

CREATE TABLE eventsvc_fixture_v1.projection_stalls (
    name text NOT NULL,
    "position" bigint NOT NULL,
    reason text NOT NULL
);


--
-- Name: queue_batches; Type: TABLE; Schema: eventsvc_fixture_v1; Owner: -
--

CREATE TABLE eventsvc_fixture_v1.queue_batches (
    batch_id text NOT NULL,
    queue_id text NOT NULL,
    "position" bigint NOT NULL,
    priority bigint NOT NULL,
    session_count bigint NOT NULL,
    cursor bigint DEFAULT 0 NOT NULL,
    canceled_at bigint,
    origin text,
    destination text,
    enqueued_at bigint NOT NULL,
    pruned bigint DEFAULT 0 NOT NULL,
    n_uninitialized bigint NOT NULL,
    n_in_progress bigint DEFAULT 0 NOT NULL,
    n_completed bigint DEFAULT 0 NOT NULL,
    n_failed bigint DEFAULT 0 NOT NULL,
    n_canceled bigint DEFAULT 0 NOT NULL
);


--
-- Name: queue_sessions; Type: TABLE; Schema: eventsvc_fixture_v1; Owner: -
--

CREATE TABLE eventsvc_fixture_v1.queue_sessions (
    session_id text NOT NULL,
    batch_id text NOT NULL,
    idx bigint NOT NULL,
    queue_id text NOT NULL,
    priority bigint NOT NULL,
    batch_position bigint NOT NULL,
    status text NOT NULL,
    attempt bigint NOT NULL,
    worker_id text,
    updated_position bigint NOT NULL,
    started_at bigint,
    finished_at bigint,
    error_type text,
    error_message text
);


--
-- Name: queue_state; Type: TABLE; Schema: eventsvc_fixture_v1; Owner: -
--

CREATE TABLE eventsvc_fixture_v1.queue_state (
    queue_id text NOT NULL,
    paused bigint DEFAULT 0 NOT NULL,
    pruned_at bigint DEFAULT 0 NOT NULL
);


--
-- Name: stats_runs; Type: TABLE; Schema: eventsvc_fixture_v1; Owner: -
--

CREATE TABLE eventsvc_fixture_v1.stats_runs (
    "position" bigint NOT NULL,
    queue_id text NOT NULL,
    batch_id text NOT NULL,
    session_id text NOT NULL,
    attempt bigint NOT NULL,
    node_id text NOT NULL,
    node_type text NOT NULL,
    failed bigint NOT NULL,
    started_at bigint,
    ended_at bigint,
    wall_seconds double precision,
    rss_before bigint,
    rss_after bigint,
    vram_peak bigint,
    vram_delta bigint,
    overlapped bigint NOT NULL,
    cache_hit bigint NOT NULL,
    cache_miss bigint NOT NULL
);


--
-- Name: streams; Type: TABLE; Schema: eventsvc_fixture_v1; Owner: -
--

CREATE TABLE eventsvc_fixture_v1.streams (
    stream text NOT NULL,
    version bigint NOT NULL
);


--
-- Data for Name: artifact_refs; Type: TABLE DATA; Schema: eventsvc_fixture_v1; Owner: -
--



--
-- Data for Name: artifacts; Type: TABLE DATA; Schema: eventsvc_fixture_v1; Owner: -
--



--
-- Data for Name: events; Type: TABLE DATA; Schema: eventsvc_fixture_v1; Owner: -
--

INSERT INTO eventsvc_fixture_v1.events VALUES (1, 'batch-cf72bd19-4571-4f66-8d75-d4b2cc621c46', 0, '7bd3695d-ec83-4bbe-a655-ea1f5f9a790e', 'batch.enqueued', 1, 1796247427203266, '{"type":"batch.enqueued","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","graph":{"id":"math-grid","nodes":{"add":{"id":"add","is_intermediate":false,"use_cache":true,"a":0,"b":0,"type":"add"},"multiply":{"id":"multiply","is_intermediate":false,"use_cache":true,"a":0,"b":10,"type":"multiply"},"label":{"id":"label","is_intermediate":false,"use_cache":true,"template":"computed","values":{},"type":"string_format"}},"edges":[{"source":{"node_id":"add","field":"value"},"destination":{"node_id":"multiply","field":"a"}}]},"data":[[{"node_path":"add","field_name":"a","items":[1,2,3]}],[{"node_path":"add","field_name":"b","items":[10,20,30,40]}]],"runs":1,"priority":0,"session_count":12,"origin":null,"destination":null}', '{}', '\x67ba60011c62de553ef89fb41c4a9748dc30a3f43026279eaf086a886041ba15', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (2, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.0', 0, '2ff0f118-c0a4-4acf-a13f-e5b37d312285', 'session.started', 1, 1796247427208783, '{"type":"session.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.0","attempt":1,"worker_id":"worker-7211-75d7fc-0"}', '{}', '\xe6d73a71a8605a41bd1f76e32055afc505cb175d79b4eeb777796f4c1a034be7', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (3, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.0', 1, '33320c6c-24d3-4c71-b573-17a6defb19f0', 'invocation.started', 1, 1796247427229826, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.0","attempt":1,"node_id":"add","source_node_id":"add","node_type":"add","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x5aea855dd9ce2dd0bee3965ddda386d51e1cff53b2a05eb73612bc72ae832b54', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (4, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.0', 2, 'b2a3cfa1-aeef-47d0-bad4-f10c25cba2be', 'invocation.completed', 1, 1796247427232635, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.0","attempt":1,"node_id":"add","source_node_id":"add","node_type":"add","worker_id":"worker-7211-75d7fc-0","outputs":{"value":11,"type":"integer_output"},"measurement":{"started_at":"2026-12-02T21:37:07.231431Z","ended_at":"2026-12-02T21:37:07.231493Z","wall_seconds":0.000039347998608718626,"rss_before":60837888,"rss_after":60841984,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"4bcff9109b03b129c98028b8ee2b9da475a186b34d2d9b350ccda6b77088af18","cached":false}', '{}', '\xc4bdec2250dfaef8bcd423f565ab8b5cb1a41028d525d1804dedbbe09fa8e585', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (5, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.0', 3, '26f0f43b-ac5d-4446-bf73-d2374d7d3653', 'invocation.started', 1, 1796247427232635, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.0","attempt":1,"node_id":"multiply","source_node_id":"multiply","node_type":"multiply","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x2fa73404546c2da0e8090be3a80a41054292542188998d387e3d573cd39378cf', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (6, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.0', 4, '587d0d58-f27c-454e-ac40-5384d38a02ba', 'invocation.completed', 1, 1796247427234855, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.0","attempt":1,"node_id":"multiply","source_node_id":"multiply","node_type":"multiply","worker_id":"worker-7211-75d7fc-0","outputs":{"value":110,"type":"integer_output"},"measurement":{"started_at":"2026-12-02T21:37:07.234037Z","ended_at":"2026-12-02T21:37:07.234069Z","wall_seconds":0.000022853999325889163,"rss_before":60882944,"rss_after":60882944,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"4d8fdbb9a94376fea6a7266e8bf1edbceba573c513486f9940bffed359ad610b","cached":false}', '{}', '\xd07207e87c4a22003b2f64aec691e1e135440247f1c610ee01bc7ab709bb3196', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (7, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.0', 5, '97eb2f9e-f574-4fd7-a057-1c0020ec0221', 'invocation.started', 1, 1796247427234855, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.0","attempt":1,"node_id":"label","source_node_id":"label","node_type":"string_format","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x4e83ba0765b5338937eb32dd812c5a18102071785606d38671c0575b51eb7c7b', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (8, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.0', 6, 'e512f2e3-0262-47a0-bfa1-6d39e86c85fe', 'invocation.completed', 1, 1796247427236729, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.0","attempt":1,"node_id":"label","source_node_id":"label","node_type":"string_format","worker_id":"worker-7211-75d7fc-0","outputs":{"value":"computed","type":"string_output"},"measurement":{"started_at":"2026-12-02T21:37:07.236229Z","ended_at":"2026-12-02T21:37:07.236272Z","wall_seconds":0.00003624400051194243,"rss_before":60895232,"rss_after":60895232,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"c13a5b8e49d1a6e3e1ed3102900ae82b19c58ffbbf0eeb553f19cd16081998ce","cached":false}', '{}', '\xf750b437a1e13a14b117ffc069e4d52fa0cc2556dbe9c92ae6eba6f1e6a0ff3c', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (9, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.0', 7, '42da19ba-8892-4bcf-b172-dc6ec7603fc8', 'session.completed', 1, 1796247427236729, '{"type":"session.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.0","attempt":1}', '{}', '\x3663ff5270a58a75b7189676d0534b97e0bc619e78dd246e3e51f986c98ec379', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (10, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.1', 0, 'b40319de-87ed-4427-ac34-83eaaf2c1c90', 'session.started', 1, 1796247427238356, '{"type":"session.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.1","attempt":1,"worker_id":"worker-7211-75d7fc-0"}', '{}', '\xe96004e1d61576bc68e8ebe31c8284c8cd93d10bd4a64b9fbd61db279e167cbc', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (11, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.1', 1, '90788c93-d233-4443-9758-66e098ac5451', 'invocation.started', 1, 1796247427239843, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.1","attempt":1,"node_id":"add","source_node_id":"add","node_type":"add","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x2f7bdc67aa74fa0200844c631091504498bec05b8ac6c1eaa726c947b69a6234', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (12, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.1', 2, '1b94cbcf-b547-452d-81bf-2a8a4cbd567f', 'invocation.completed', 1, 1796247427241732, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.1","attempt":1,"node_id":"add","source_node_id":"add","node_type":"add","worker_id":"worker-7211-75d7fc-0","outputs":{"value":21,"type":"integer_output"},"measurement":{"started_at":"2026-12-02T21:37:07.240778Z","ended_at":"2026-12-02T21:37:07.240808Z","wall_seconds":0.0000197790013771737,"rss_before":60907520,"rss_after":60907520,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"fe1ed4d189e5a4df372462f0f014a89278b3d057d0f6fbd319b75235322be529","cached":false}', '{}', '\xab1290012196f4d52f2a4dbbbc1a2c767df0970a5baee169c83ed3e51b699530', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (13, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.1', 3, '3748a3c4-4800-467a-9b48-83a1913f7fdb', 'invocation.started', 1, 1796247427241732, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.1","attempt":1,"node_id":"multiply","source_node_id":"multiply","node_type":"multiply","worker_id":"worker-7211-75d7fc-0"}', '{}', '\xa753e47d3db5b95845060c6b097abd538167f4ed51646ad5bbe5b40c6743c1de', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (14, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.1', 4, '2c739fec-4aec-4970-aecb-5e55e20fc4d3', 'invocation.completed', 1, 1796247427252684, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.1","attempt":1,"node_id":"multiply","source_node_id":"multiply","node_type":"multiply","worker_id":"worker-7211-75d7fc-0","outputs":{"value":210,"type":"integer_output"},"measurement":{"started_at":"2026-12-02T21:37:07.251534Z","ended_at":"2026-12-02T21:37:07.251588Z","wall_seconds":0.00003895800000464078,"rss_before":60907520,"rss_after":60907520,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"3dfa67b96cec209d4c1406d97b086a3787f49432d9fe7d7ff120c7f8af17b349","cached":false}', '{}', '\x3dd2ab5eb0a8b4fb530b5d45b8c9b25a63c3b828eb097a4f2e8db80c55dc362e', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (15, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.1', 5, 'c1ca4955-9785-4c8e-8301-d93a964bbce9', 'invocation.started', 1, 1796247427252684, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.1","attempt":1,"node_id":"label","source_node_id":"label","node_type":"string_format","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x66d2d0ee3e3f3a87db86f13f6537c5f84d09c4133d448c08d543d5e987317f0e', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (16, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.1', 6, 'dfe4dcf9-9a99-492a-8c73-4fdd2ef78274', 'invocation.completed', 1, 1796247427252684, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.1","attempt":1,"node_id":"label","source_node_id":"label","node_type":"string_format","worker_id":"worker-7211-75d7fc-0","outputs":{"value":"computed","type":"string_output"},"measurement":{"started_at":null,"ended_at":null,"wall_seconds":null,"rss_before":null,"rss_after":null,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"c13a5b8e49d1a6e3e1ed3102900ae82b19c58ffbbf0eeb553f19cd16081998ce","cached":true}', '{}', '\xf25be25b5de31c7add34e55d2760fe3b5dc4f40bb458af84fe224fc4d46ba952', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (17, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.1', 7, 'f7dbd2ab-469f-4b3f-a049-b0d86e1ed2a6', 'session.completed', 1, 1796247427252684, '{"type":"session.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.1","attempt":1}', '{}', '\xc9af6038dad93f0ca7326406c6d8272950d1cb40bd417187f962e81414f6a542', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (18, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.2', 0, '5cbdcb09-0764-44c8-a95f-861cb25dad95', 'session.started', 1, 1796247427254716, '{"type":"session.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.2","attempt":1,"worker_id":"worker-7211-75d7fc-0"}', '{}', '\x6ad79e99003b74c211166cade5c4133a87e34e7dd570e912f20c4a49207922ac', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (19, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.2', 1, 'abfa02bc-44d0-4b28-8332-09272e6e1511', 'invocation.started', 1, 1796247427256317, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.2","attempt":1,"node_id":"add","source_node_id":"add","node_type":"add","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x2a7d496af84c2d6a399be36fc3e3fb48fa87cf3af13f5bfe7f46d040f29d973e', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (20, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.2', 2, '7e5bf923-9114-402f-92d9-5b6713dca115', 'invocation.completed', 1, 1796247427258194, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.2","attempt":1,"node_id":"add","source_node_id":"add","node_type":"add","worker_id":"worker-7211-75d7fc-0","outputs":{"value":31,"type":"integer_output"},"measurement":{"started_at":"2026-12-02T21:37:07.257367Z","ended_at":"2026-12-02T21:37:07.257407Z","wall_seconds":0.000025968000045395456,"rss_before":60928000,"rss_after":60928000,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"913f732fe075213d09a2f7a71381a05d1309dcbc8668cd82e42638e4d4f22f66","cached":false}', '{}', '\x7a6d15e4ddba32f40c3f0810ed8e9e862111200b8d53816c74987fadfcaacbb0', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (21, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.2', 3, '4dcd53e6-226a-42fb-9678-0154d95d6ee0', 'invocation.started', 1, 1796247427258194, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.2","attempt":1,"node_id":"multiply","source_node_id":"multiply","node_type":"multiply","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x63db4f321e0c89b700c49947440de6c5279357bb3d8071c7c84eec40fc939191', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (22, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.2', 4, '55229928-03ff-4401-82c5-ebb0bb1af555', 'invocation.completed', 1, 1796247427260190, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.2","attempt":1,"node_id":"multiply","source_node_id":"multiply","node_type":"multiply","worker_id":"worker-7211-75d7fc-0","outputs":{"value":310,"type":"integer_output"},"measurement":{"started_at":"2026-12-02T21:37:07.259387Z","ended_at":"2026-12-02T21:37:07.259416Z","wall_seconds":0.000020370998754515313,"rss_before":60940288,"rss_after":60940288,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"00708f092e5c5e12c698c5dfc99d5a1b9b44614d6bce4daa1a4603b5d64a0769","cached":false}', '{}', '\xbc810cc62bd3a84fbeba0f545a3840337e00bf253fa309abcc00294618aefb91', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (23, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.2', 5, 'e8c377a8-4c7c-4396-ae56-530d9f781218', 'invocation.started', 1, 1796247427260190, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.2","attempt":1,"node_id":"label","source_node_id":"label","node_type":"string_format","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x00b64db06ae21facc26a70b9e643ee7238b914857a855a572af511ac9d2364f3', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (24, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.2', 6, '86c159a8-845e-4782-83c5-7bb59b206401', 'invocation.completed', 1, 1796247427260190, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.2","attempt":1,"node_id":"label","source_node_id":"label","node_type":"string_format","worker_id":"worker-7211-75d7fc-0","outputs":{"value":"computed","type":"string_output"},"measurement":{"started_at":null,"ended_at":null,"wall_seconds":null,"rss_before":null,"rss_after":null,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"c13a5b8e49d1a6e3e1ed3102900ae82b19c58ffbbf0eeb553f19cd16081998ce","cached":true}', '{}', '\x9bc356a24ee4d2f4fb30b41b8ece5c5201590d8896110f98bb586c7272e1a1f2', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (25, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.2', 7, '95315cf1-1d24-4c98-914b-26cea3cb15a4', 'session.completed', 1, 1796247427260190, '{"type":"session.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.2","attempt":1}', '{}', '\x4f3cc752f4bdd8d401659e144889244805a73b3864a752a12c6e7d2505a25a71', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (26, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.3', 0, '3a474be9-e2c1-4832-9f64-ec17bb995038', 'session.started', 1, 1796247427261919, '{"type":"session.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.3","attempt":1,"worker_id":"worker-7211-75d7fc-0"}', '{}', '\x7ab3e2487303a6c83926266627bc3e4e17ec63b9b8ba42c8b0beee3379950c74', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (66, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.8', 0, '09a9b15e-abf4-496d-983c-3a3d234b73d3', 'session.started', 1, 1796247427296685, '{"type":"session.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.8","attempt":1,"worker_id":"worker-7211-75d7fc-0"}', '{}', '\x1367a34652b51726322fcd4834e132ac536958cee59ce2cf6c8637de2231c70f', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (27, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.3', 1, 'd4d26470-ec8d-426b-b8b5-6f2f8349e2e1', 'invocation.started', 1, 1796247427263344, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.3","attempt":1,"node_id":"add","source_node_id":"add","node_type":"add","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x0f88bc9483d6ab446cd1bfef38148a911694ebd663c0aee085a83b885389314b', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (28, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.3', 2, 'c02bc467-752a-41d7-a4ff-ebff99483515', 'invocation.completed', 1, 1796247427264943, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.3","attempt":1,"node_id":"add","source_node_id":"add","node_type":"add","worker_id":"worker-7211-75d7fc-0","outputs":{"value":41,"type":"integer_output"},"measurement":{"started_at":"2026-12-02T21:37:07.264271Z","ended_at":"2026-12-02T21:37:07.264299Z","wall_seconds":0.000017517000742373057,"rss_before":60948480,"rss_after":60948480,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"14faba15d45784adac6b25cc2b4a63d7e01fddceefd598c167452a6d9c01a638","cached":false}', '{}', '\x2754d963b023a23b706237d2a2599f8a1bb7faac05c7104a67cfbe011276c47e', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (29, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.3', 3, '3a5d6768-51a1-4b0a-95bd-853b78db1a36', 'invocation.started', 1, 1796247427264943, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.3","attempt":1,"node_id":"multiply","source_node_id":"multiply","node_type":"multiply","worker_id":"worker-7211-75d7fc-0"}', '{}', '\xaf2ecb37cbf62a007c9cd638122c0d2b952b751e28c40bf8aa1edf096dcff2c5', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (30, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.3', 4, '7a08a9c3-d2ef-4896-b700-7cf96d95520f', 'invocation.completed', 1, 1796247427266611, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.3","attempt":1,"node_id":"multiply","source_node_id":"multiply","node_type":"multiply","worker_id":"worker-7211-75d7fc-0","outputs":{"value":410,"type":"integer_output"},"measurement":{"started_at":"2026-12-02T21:37:07.265965Z","ended_at":"2026-12-02T21:37:07.265981Z","wall_seconds":0.000012047999916831031,"rss_before":60964864,"rss_after":60964864,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"daa8d0c7ead9b1aaa296b94c43c598193b884622899877001c83be121ec57f7e","cached":false}', '{}', '\xc4f7734c5dcc79486f75514b0e32597fec2c4d40b7b5b267b8b6c59f33c0dfe1', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (31, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.3', 5, '501848a1-8097-486d-846f-080b3306b6e7', 'invocation.started', 1, 1796247427266611, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.3","attempt":1,"node_id":"label","source_node_id":"label","node_type":"string_format","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x8cccb0eb21d12b43cb4e9132cbc181de52a887c861613aaa5a83471797a220e5', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (32, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.3', 6, '34fda894-8b11-4aa6-84b9-5aec7ff04fdc', 'invocation.completed', 1, 1796247427266611, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.3","attempt":1,"node_id":"label","source_node_id":"label","node_type":"string_format","worker_id":"worker-7211-75d7fc-0","outputs":{"value":"computed","type":"string_output"},"measurement":{"started_at":null,"ended_at":null,"wall_seconds":null,"rss_before":null,"rss_after":null,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"c13a5b8e49d1a6e3e1ed3102900ae82b19c58ffbbf0eeb553f19cd16081998ce","cached":true}', '{}', '\x0b551e796e5802626ee604e5e6f04cfcffa170634e514883455443a99272bff5', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (33, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.3', 7, 'ce6a272f-ab6a-42e5-a48d-857433e58c73', 'session.completed', 1, 1796247427266611, '{"type":"session.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.3","attempt":1}', '{}', '\x8838c9820a71abc7d333803733be06afd903fe5f2bc0cbbd021dd672cf088cb4', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (34, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.4', 0, 'fdc01b0d-186e-4dff-889b-0a6067249b9c', 'session.started', 1, 1796247427268181, '{"type":"session.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.4","attempt":1,"worker_id":"worker-7211-75d7fc-0"}', '{}', '\x7d2b0a401fbcda0bcc74070a1b397b106bb479f8d0c1376364ac4f76756ae691', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (35, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.4', 1, 'da5e2856-910c-4e90-8d49-87f6f1d13aba', 'invocation.started', 1, 1796247427269409, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.4","attempt":1,"node_id":"add","source_node_id":"add","node_type":"add","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x5de303ca685298194fb8f0b6791f99fbcaeef3a7a39ca804bfcda8570de41791', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (36, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.4', 2, '8bcce648-7b3d-4ba8-8315-02391be11357', 'invocation.completed', 1, 1796247427270918, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.4","attempt":1,"node_id":"add","source_node_id":"add","node_type":"add","worker_id":"worker-7211-75d7fc-0","outputs":{"value":12,"type":"integer_output"},"measurement":{"started_at":"2026-12-02T21:37:07.270263Z","ended_at":"2026-12-02T21:37:07.270287Z","wall_seconds":0.000015663001249777153,"rss_before":60977152,"rss_after":60977152,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"612b5c771fd57982c46b3817a2b81c28604309ce1d729f4a6cdfd73955afd365","cached":false}', '{}', '\x1797eb36a9b33177f31203f067176605c91bd3beaa19c74923718f8f7655183b', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (37, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.4', 3, '3c9dd71b-abff-41e9-8215-3ddf89c3b07b', 'invocation.started', 1, 1796247427270918, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.4","attempt":1,"node_id":"multiply","source_node_id":"multiply","node_type":"multiply","worker_id":"worker-7211-75d7fc-0"}', '{}', '\xc0f5caaf7790e02b3ab5610c4d49499a95a783b53914c49c325d4271e0a23148', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (38, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.4', 4, '62abd377-73dd-4873-bde6-b03868b0a94d', 'invocation.completed', 1, 1796247427272581, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.4","attempt":1,"node_id":"multiply","source_node_id":"multiply","node_type":"multiply","worker_id":"worker-7211-75d7fc-0","outputs":{"value":120,"type":"integer_output"},"measurement":{"started_at":"2026-12-02T21:37:07.271927Z","ended_at":"2026-12-02T21:37:07.271943Z","wall_seconds":0.000012467999113141559,"rss_before":60985344,"rss_after":60985344,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"233ace5c333266d03550a5efc4b7f51bd2d66bd89d5f6ba43e9ec1330da30029","cached":false}', '{}', '\xe5edbb2591da189499d1ed8b7c30865d7ce54d2bf1a9a45160afdf2b2c447d90', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (39, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.4', 5, '9405bffa-0a56-4b93-b7fd-0edd4b525c01', 'invocation.started', 1, 1796247427272581, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.4","attempt":1,"node_id":"label","source_node_id":"label","node_type":"string_format","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x40df5743a069e73d93a197006d983dfa4a816762ec3490684b048db8cf3086ae', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (40, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.4', 6, 'b3a0d2e7-61f0-494e-bf09-0d8418b43f9d', 'invocation.completed', 1, 1796247427272581, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.4","attempt":1,"node_id":"label","source_node_id":"label","node_type":"string_format","worker_id":"worker-7211-75d7fc-0","outputs":{"value":"computed","type":"string_output"},"measurement":{"started_at":null,"ended_at":null,"wall_seconds":null,"rss_before":null,"rss_after":null,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"c13a5b8e49d1a6e3e1ed3102900ae82b19c58ffbbf0eeb553f19cd16081998ce","cached":true}', '{}', '\x2179cea51572bfa699e52f272aad5ad241726c64a3a4a707de9d1184911bb800', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (41, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.4', 7, '7900c5c2-f226-40c4-b51b-190694f81948', 'session.completed', 1, 1796247427272581, '{"type":"session.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.4","attempt":1}', '{}', '\xc9d0e2f0a1bd6fa9ccb454b8a17f523d2141c78cf335d5d62f0d299933968ce6', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (42, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.5', 0, '6d711b1a-2653-426e-94d6-dd0405d23ac6', 'session.started', 1, 1796247427276265, '{"type":"session.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.5","attempt":1,"worker_id":"worker-7211-75d7fc-0"}', '{}', '\xb7c6ab6fa0ebf2427b94f376d4485733e981c9f19f924468271d537ece324543', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (43, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.5', 1, 'de254d49-1272-4104-8431-9c26fae54fd5', 'invocation.started', 1, 1796247427277815, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.5","attempt":1,"node_id":"add","source_node_id":"add","node_type":"add","worker_id":"worker-7211-75d7fc-0"}', '{}', '\xab99103f973e2d3f81a6104ca71a24e0efb94ec5dee2ddc1c32f029a74e52ffb', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (44, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.5', 2, 'cbabd873-4fbb-4002-951e-70deaf54a507', 'invocation.completed', 1, 1796247427279556, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.5","attempt":1,"node_id":"add","source_node_id":"add","node_type":"add","worker_id":"worker-7211-75d7fc-0","outputs":{"value":22,"type":"integer_output"},"measurement":{"started_at":"2026-12-02T21:37:07.278843Z","ended_at":"2026-12-02T21:37:07.278875Z","wall_seconds":0.000021391999325715005,"rss_before":61001728,"rss_after":61001728,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"2136b811908cc9d0f5a90390e57f65a5cd79d0524c1babd3326b6e8dde7a3e97","cached":false}', '{}', '\xb6cbc58004d696d84b73801172cee46603c6218021da785de2066584a42db09d', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (45, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.5', 3, '8172e1cb-1ce4-432b-ba43-b8757e0b15bb', 'invocation.started', 1, 1796247427279556, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.5","attempt":1,"node_id":"multiply","source_node_id":"multiply","node_type":"multiply","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x076c27af9cd695d8eb6e281c3a3d561b09e8fd266c9c6a0e8e9a09fac0b72af4', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (46, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.5', 4, 'e0d993bb-34f4-43b7-8b78-cb4353a08266', 'invocation.completed', 1, 1796247427281042, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.5","attempt":1,"node_id":"multiply","source_node_id":"multiply","node_type":"multiply","worker_id":"worker-7211-75d7fc-0","outputs":{"value":220,"type":"integer_output"},"measurement":{"started_at":"2026-12-02T21:37:07.280488Z","ended_at":"2026-12-02T21:37:07.280507Z","wall_seconds":0.000013820999811287038,"rss_before":61009920,"rss_after":61009920,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"b4afb123aca6b036e8f8e4b7bacab21cb0a004159ad6eb6288ebbd6e708dd8d4","cached":false}', '{}', '\x6c9d348a3bcd897274aa85da1ca22e2fa053d40d1c3c7095c7a271be19e4511e', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (47, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.5', 5, '5d4f6187-e87e-4ef1-a795-de3b13da1720', 'invocation.started', 1, 1796247427281042, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.5","attempt":1,"node_id":"label","source_node_id":"label","node_type":"string_format","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x28b969a3bae83c3433ca927cddb5d6e16cf61919f7704d914742b484df70957a', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (48, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.5', 6, '105e4c06-bbca-46ae-a2f1-13c578d579fe', 'invocation.completed', 1, 1796247427281042, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.5","attempt":1,"node_id":"label","source_node_id":"label","node_type":"string_format","worker_id":"worker-7211-75d7fc-0","outputs":{"value":"computed","type":"string_output"},"measurement":{"started_at":null,"ended_at":null,"wall_seconds":null,"rss_before":null,"rss_after":null,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"c13a5b8e49d1a6e3e1ed3102900ae82b19c58ffbbf0eeb553f19cd16081998ce","cached":true}', '{}', '\x670645c9fef503f792eacb28d87a1f6280dfcc9f04a66299cd91a87ffbd1ad5c', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (49, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.5', 7, '67bddbe0-bb1d-45b3-ad23-4d04ef7aedb8', 'session.completed', 1, 1796247427281042, '{"type":"session.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.5","attempt":1}', '{}', '\x917d9a3636049ebc808ea4da936d734add2115cabb22eaefc2c1b143644566e4', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (50, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.6', 0, 'f05f67ae-cd7a-4cdc-80ee-daa5806c7a26', 'session.started', 1, 1796247427282686, '{"type":"session.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.6","attempt":1,"worker_id":"worker-7211-75d7fc-0"}', '{}', '\x5f0ffba00a35895eb5594877147a4799d69b103b8664809fec0b028af0f62e0f', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (51, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.6', 1, '54333742-b049-4e01-bb1a-39dfaf4ae130', 'invocation.started', 1, 1796247427284074, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.6","attempt":1,"node_id":"add","source_node_id":"add","node_type":"add","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x728e34b76555216e45ac9c50a2d1d00735b7a1f2d11735f1dc03a7f1ba11c5cb', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (52, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.6', 2, '2e928dd3-500b-4107-ab1f-9fb5273d3dee', 'invocation.completed', 1, 1796247427285750, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.6","attempt":1,"node_id":"add","source_node_id":"add","node_type":"add","worker_id":"worker-7211-75d7fc-0","outputs":{"value":32,"type":"integer_output"},"measurement":{"started_at":"2026-12-02T21:37:07.285016Z","ended_at":"2026-12-02T21:37:07.285038Z","wall_seconds":0.000015112998880795203,"rss_before":61022208,"rss_after":61022208,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"d8ecd96750ba6df54349d087419ce6f794b51e0f5c55aba22c3738279c65473e","cached":false}', '{}', '\x222453aa9b7107645032974b10eb756a007857a7bf5f69c6b1ab0a0b0a8ba991', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (113, 'queue-default', 2, 'ab198bc9-c861-44f7-a27a-a2892765dd01', 'queue.pruned', 1, 1796247427853003, '{"type":"queue.pruned","queue_id":"default"}', '{}', '\x1837b183ba18327c7db9e31bee377ac18deec6a07f16389f3870f3dfbe67fbfe', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (53, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.6', 3, '64807dab-e6e0-4a21-b5bc-35ea3959bfac', 'invocation.started', 1, 1796247427285750, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.6","attempt":1,"node_id":"multiply","source_node_id":"multiply","node_type":"multiply","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x5795efddc663b9a8476852c22224731eda4edaed61abbd5a73c2f1537a8c4c62', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (54, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.6', 4, 'a57b9251-99a7-427a-beb9-786ae41ef05d', 'invocation.completed', 1, 1796247427287497, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.6","attempt":1,"node_id":"multiply","source_node_id":"multiply","node_type":"multiply","worker_id":"worker-7211-75d7fc-0","outputs":{"value":320,"type":"integer_output"},"measurement":{"started_at":"2026-12-02T21:37:07.286784Z","ended_at":"2026-12-02T21:37:07.286804Z","wall_seconds":0.000014070999895920977,"rss_before":61034496,"rss_after":61034496,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"5bfaa3e745865de7cdacf063c3cd5c1cd4f4dc0debd9661535de52a1533eab01","cached":false}', '{}', '\xe0495e041883ba57b7d07b20794a03bad2bddf1681daa63bb497d1a3a9f67696', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (55, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.6', 5, '357664cf-cc48-4725-83df-b03a4734b0f6', 'invocation.started', 1, 1796247427287497, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.6","attempt":1,"node_id":"label","source_node_id":"label","node_type":"string_format","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x436930f326413dc8195af200551400fc0c29508054299bccaf26343bcd0c0c14', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (56, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.6', 6, '8e2643fe-9fd9-4957-b2dd-e6a8a955c0ff', 'invocation.completed', 1, 1796247427287497, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.6","attempt":1,"node_id":"label","source_node_id":"label","node_type":"string_format","worker_id":"worker-7211-75d7fc-0","outputs":{"value":"computed","type":"string_output"},"measurement":{"started_at":null,"ended_at":null,"wall_seconds":null,"rss_before":null,"rss_after":null,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"c13a5b8e49d1a6e3e1ed3102900ae82b19c58ffbbf0eeb553f19cd16081998ce","cached":true}', '{}', '\x2383bbdd1500049d3ccffc04d1218730f49b2de571bbe005654eaa4f2fcbbd96', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (57, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.6', 7, '0456a578-847c-4894-91a6-d618b6e16604', 'session.completed', 1, 1796247427287497, '{"type":"session.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.6","attempt":1}', '{}', '\xc2d56eb0a9d428e9079d0040dfed7da9ade2f727e1d785f28349be40e8e2e6d0', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (58, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.7', 0, '3990b1fe-146c-4d9f-8bd1-d0c5b5b30821', 'session.started', 1, 1796247427289379, '{"type":"session.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.7","attempt":1,"worker_id":"worker-7211-75d7fc-0"}', '{}', '\xca3867b2575a6d3bdea981eb99e899a6378d848957368c86a4bb6045d8c2175f', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (59, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.7', 1, '56d56a63-5ec4-4abe-b129-0ef80d87717e', 'invocation.started', 1, 1796247427291100, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.7","attempt":1,"node_id":"add","source_node_id":"add","node_type":"add","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x10212950df33fdf583c03c0d3b0fefcdc3f5cd6a1f17e0865bd51522f99594b1', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (60, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.7', 2, 'f932262a-3d2b-4d4d-a3f0-dfb7461ef8a6', 'invocation.completed', 1, 1796247427293156, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.7","attempt":1,"node_id":"add","source_node_id":"add","node_type":"add","worker_id":"worker-7211-75d7fc-0","outputs":{"value":42,"type":"integer_output"},"measurement":{"started_at":"2026-12-02T21:37:07.292491Z","ended_at":"2026-12-02T21:37:07.292520Z","wall_seconds":0.000019068000256083906,"rss_before":61046784,"rss_after":61046784,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"5acaa1035d667777fd46d03f51af57d42eece0e00e76f32cb83c086420915392","cached":false}', '{}', '\xeef0bb18b6b394a19dc97dd471da9b6ae62745c4dec02fc61d9a7b921faff498', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (61, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.7', 3, 'e2f09288-d283-43d9-adb4-b6d4bf2776c0', 'invocation.started', 1, 1796247427293156, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.7","attempt":1,"node_id":"multiply","source_node_id":"multiply","node_type":"multiply","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x3fe4bf17aa46bf50d1d7c1d6266a8a6797c87dcaa8ca0611abd69893f27da919', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (62, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.7', 4, '3653702f-2d01-4703-b8f5-4f3571482cc9', 'invocation.completed', 1, 1796247427295098, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.7","attempt":1,"node_id":"multiply","source_node_id":"multiply","node_type":"multiply","worker_id":"worker-7211-75d7fc-0","outputs":{"value":420,"type":"integer_output"},"measurement":{"started_at":"2026-12-02T21:37:07.294300Z","ended_at":"2026-12-02T21:37:07.294318Z","wall_seconds":0.000013169999874662608,"rss_before":61046784,"rss_after":61046784,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"0f325ecd10fb8c01b828c834d7cfcaedc9fe1b2257e052aa25c6b332ef0ff450","cached":false}', '{}', '\x73a9ca4c954176b125293ca31699bb4713c5f961171f8e4a8efed65babf15484', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (63, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.7', 5, '266058d5-77f9-48fa-896c-31146e1cfa3d', 'invocation.started', 1, 1796247427295098, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.7","attempt":1,"node_id":"label","source_node_id":"label","node_type":"string_format","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x9491c0793e9ebbee564af6ac95b94da719ffaabeea4dec7fda3a4bc8458fc422', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (64, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.7', 6, 'f320b796-77f7-438a-90df-b90504246952', 'invocation.completed', 1, 1796247427295098, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.7","attempt":1,"node_id":"label","source_node_id":"label","node_type":"string_format","worker_id":"worker-7211-75d7fc-0","outputs":{"value":"computed","type":"string_output"},"measurement":{"started_at":null,"ended_at":null,"wall_seconds":null,"rss_before":null,"rss_after":null,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"c13a5b8e49d1a6e3e1ed3102900ae82b19c58ffbbf0eeb553f19cd16081998ce","cached":true}', '{}', '\xfd2e16889326ebf1c30c6d3783c320011e50a25a23d8d80dee80eb60c87da2d9', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (65, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.7', 7, '11067a2a-ab28-4d77-b838-7fb5b936356b', 'session.completed', 1, 1796247427295098, '{"type":"session.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.7","attempt":1}', '{}', '\xc3b8d652741a3e1253c31cce49b19788605c86c02bd2b4d32c723d143e68e9c8', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (67, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.8', 1, '7470d0d4-f91a-499d-822c-cbadc8602d3e', 'invocation.started', 1, 1796247427298005, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.8","attempt":1,"node_id":"add","source_node_id":"add","node_type":"add","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x242cfbae35b425fcf1e72ae96505e237f1c791d18d8a84f761b6117cc979766f', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (68, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.8', 2, '16d13945-90c8-43b4-a7c3-2694486bdf60', 'invocation.completed', 1, 1796247427299902, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.8","attempt":1,"node_id":"add","source_node_id":"add","node_type":"add","worker_id":"worker-7211-75d7fc-0","outputs":{"value":13,"type":"integer_output"},"measurement":{"started_at":"2026-12-02T21:37:07.299126Z","ended_at":"2026-12-02T21:37:07.299158Z","wall_seconds":0.000019207998775527813,"rss_before":61050880,"rss_after":61050880,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"94126be452b0448dea3d5384824981cf4047ba86631a2b128137bdbd101e6774","cached":false}', '{}', '\xdc73366ee141440fe67dfb172afe95887ae1a9fb65f7cf9253a1d5e4f54a4a37', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (69, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.8', 3, '0dcaaeda-bd9c-4ea2-ba69-d03baef09fa7', 'invocation.started', 1, 1796247427299902, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.8","attempt":1,"node_id":"multiply","source_node_id":"multiply","node_type":"multiply","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x93bb21a8214d46d2c28367c0041d86e6a9d263b3a853744ae13564b3df434d4b', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (70, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.8', 4, 'f83c3522-81a0-4068-9fbd-6ba2d7fdd4e7', 'invocation.completed', 1, 1796247427301684, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.8","attempt":1,"node_id":"multiply","source_node_id":"multiply","node_type":"multiply","worker_id":"worker-7211-75d7fc-0","outputs":{"value":130,"type":"integer_output"},"measurement":{"started_at":"2026-12-02T21:37:07.301003Z","ended_at":"2026-12-02T21:37:07.301025Z","wall_seconds":0.000015772999176988378,"rss_before":61054976,"rss_after":61054976,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"d09ce989c3dbee803ba277d404d36e9307b6cf759d66dc6c545eacbc0b9defd6","cached":false}', '{}', '\x907403502faaa12aa80d68bc163b918879ccca1ef3175f435051bb758ba89cd0', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (71, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.8', 5, '7560ac7b-4060-46d8-9ebd-5502e990cab4', 'invocation.started', 1, 1796247427301684, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.8","attempt":1,"node_id":"label","source_node_id":"label","node_type":"string_format","worker_id":"worker-7211-75d7fc-0"}', '{}', '\xfa3d87dd6fe363ecf6f40f790141c05975b0de26d0ed73fd201be5406dc1e9d4', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (72, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.8', 6, '1cf629be-908a-4a91-ba9a-dfcac7774e1d', 'invocation.completed', 1, 1796247427301684, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.8","attempt":1,"node_id":"label","source_node_id":"label","node_type":"string_format","worker_id":"worker-7211-75d7fc-0","outputs":{"value":"computed","type":"string_output"},"measurement":{"started_at":null,"ended_at":null,"wall_seconds":null,"rss_before":null,"rss_after":null,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"c13a5b8e49d1a6e3e1ed3102900ae82b19c58ffbbf0eeb553f19cd16081998ce","cached":true}', '{}', '\xf58b8f38fcad75897853fa1f45e21e86fbf00828f0492e7f7dded2ac08de1b71', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (73, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.8', 7, '9ae58fe4-315a-4265-bb07-e8dbcd2db62a', 'session.completed', 1, 1796247427301684, '{"type":"session.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.8","attempt":1}', '{}', '\x458ac463c21e138f6eb74094d4f741427540cec8ce665b0686ca9b6bc3e8090c', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (74, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.9', 0, 'cb677a2c-5a9a-4b95-9bbc-647031af8876', 'session.started', 1, 1796247427303388, '{"type":"session.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.9","attempt":1,"worker_id":"worker-7211-75d7fc-0"}', '{}', '\x26b2a10d9a63cbac63d48c62a19526f565e9333a05a3db0719fbde9d645a25dd', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (75, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.9', 1, '6e3ed92f-f5d0-4560-919d-030b9d8f4194', 'invocation.started', 1, 1796247427304615, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.9","attempt":1,"node_id":"add","source_node_id":"add","node_type":"add","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x35b206ee5f8439e2e34435b51cf6c89a55a650a84e1ab721682f5ac509d76eda', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (76, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.9', 2, '888e59b4-7355-4ec9-b9d1-e35f1ca2cd5e', 'invocation.completed', 1, 1796247427306360, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.9","attempt":1,"node_id":"add","source_node_id":"add","node_type":"add","worker_id":"worker-7211-75d7fc-0","outputs":{"value":23,"type":"integer_output"},"measurement":{"started_at":"2026-12-02T21:37:07.305734Z","ended_at":"2026-12-02T21:37:07.305759Z","wall_seconds":0.00001540300036140252,"rss_before":61083648,"rss_after":61083648,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"57633398cb41a19f4d543b19ce49109e4dcf2f6393bd1a96f600a6760917690d","cached":false}', '{}', '\x37faa695c7d59c875f9b4a6ee7c6de9861a63fa85ee9762604a540efa740d547', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (77, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.9', 3, '6aa5970c-bf8b-4b0b-b1ec-5aeb5ab34942', 'invocation.started', 1, 1796247427306360, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.9","attempt":1,"node_id":"multiply","source_node_id":"multiply","node_type":"multiply","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x92b8aff82d076a81830b935fa418cf19176e3cf68feacc13eb6f8b5c3b798b46', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (78, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.9', 4, '46be5827-c563-4ce8-ba7b-3a9423cb8a2a', 'invocation.completed', 1, 1796247427307955, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.9","attempt":1,"node_id":"multiply","source_node_id":"multiply","node_type":"multiply","worker_id":"worker-7211-75d7fc-0","outputs":{"value":230,"type":"integer_output"},"measurement":{"started_at":"2026-12-02T21:37:07.307348Z","ended_at":"2026-12-02T21:37:07.307366Z","wall_seconds":0.000013109000065014698,"rss_before":61087744,"rss_after":61087744,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"aeffd7bf722b37f516f1f72d20aa29d9dac7b525e025901defd673ece8567242","cached":false}', '{}', '\xa3b0f8530b7a7fa3d2dcd9a9e81cea11fcd2c76c1de93b68307734724e986f97', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (79, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.9', 5, '0d596851-9f95-40ab-9c56-effd41dff2ef', 'invocation.started', 1, 1796247427307955, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.9","attempt":1,"node_id":"label","source_node_id":"label","node_type":"string_format","worker_id":"worker-7211-75d7fc-0"}', '{}', '\xe2956bbd1c4edb14d183d5ac1daa868b99a844f9b454ac708efa720af1aa4e73', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (80, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.9', 6, '8cf66720-b043-4919-80f6-9b4890efba6a', 'invocation.completed', 1, 1796247427307955, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.9","attempt":1,"node_id":"label","source_node_id":"label","node_type":"string_format","worker_id":"worker-7211-75d7fc-0","outputs":{"value":"computed","type":"string_output"},"measurement":{"started_at":null,"ended_at":null,"wall_seconds":null,"rss_before":null,"rss_after":null,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"c13a5b8e49d1a6e3e1ed3102900ae82b19c58ffbbf0eeb553f19cd16081998ce","cached":true}', '{}', '\x1b6e52e207a5ef4cca0d467e2984e920544e0e3e5e82dc3526f38933301bd219', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (81, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.9', 7, '10995c5b-f347-4f15-87b4-e0ca0927a4a4', 'session.completed', 1, 1796247427307955, '{"type":"session.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.9","attempt":1}', '{}', '\xf0566173652811a64dfb8110cfe12d0429f3857ca7c0ffd0e9da006defebaddc', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (82, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.10', 0, '3cbd59ee-afb0-424e-848a-f9b5bf32d375', 'session.started', 1, 1796247427309719, '{"type":"session.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.10","attempt":1,"worker_id":"worker-7211-75d7fc-0"}', '{}', '\x08b89df55cdacec8570ed6da785101e5d810971d6467e1d4edb2eb18588dfdb2', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (83, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.10', 1, 'd857065a-5f00-4eb6-a7e3-21494e8df992', 'invocation.started', 1, 1796247427311101, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.10","attempt":1,"node_id":"add","source_node_id":"add","node_type":"add","worker_id":"worker-7211-75d7fc-0"}', '{}', '\xbe5bd7298c744acbb073748f3f52fef8be889a4c8996e29e7d0e82bb147e0e75', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (84, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.10', 2, '1425a131-c50d-47cd-ba40-fee8005e2523', 'invocation.completed', 1, 1796247427312769, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.10","attempt":1,"node_id":"add","source_node_id":"add","node_type":"add","worker_id":"worker-7211-75d7fc-0","outputs":{"value":33,"type":"integer_output"},"measurement":{"started_at":"2026-12-02T21:37:07.312075Z","ended_at":"2026-12-02T21:37:07.312101Z","wall_seconds":0.000015842999346205033,"rss_before":61100032,"rss_after":61100032,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"c4385b9031d1cb405a3b147839a3568d2b03b81bf8b0622e28c643de5e272086","cached":false}', '{}', '\xbce98ac27a739127eb2f662f0b8fcd48acc5cf5d7941ece274bb313de1e3edca', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (85, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.10', 3, '6c91d16c-e12a-4d8b-95f8-3058a54f0dd9', 'invocation.started', 1, 1796247427312769, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.10","attempt":1,"node_id":"multiply","source_node_id":"multiply","node_type":"multiply","worker_id":"worker-7211-75d7fc-0"}', '{}', '\xa9f360382a3bfde02d9885f2e3e0c412f3f76d23405d5315af2bb36a98313a16', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (86, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.10', 4, 'baf6aac9-d388-4729-a981-cc8346865f98', 'invocation.completed', 1, 1796247427314604, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.10","attempt":1,"node_id":"multiply","source_node_id":"multiply","node_type":"multiply","worker_id":"worker-7211-75d7fc-0","outputs":{"value":330,"type":"integer_output"},"measurement":{"started_at":"2026-12-02T21:37:07.313932Z","ended_at":"2026-12-02T21:37:07.313952Z","wall_seconds":0.000015363000784418546,"rss_before":61112320,"rss_after":61112320,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"8b89ad66d84c6b096c0a768ed3f7e3f88601faf9fbc0fa88e55921adf88aa4ca","cached":false}', '{}', '\xa077521d27f32aa0a4650e9784edfd78eba2a6b25d697a8ff73920379f339b52', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (87, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.10', 5, '50cdae49-fc11-4b59-bf26-4609b3628959', 'invocation.started', 1, 1796247427314604, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.10","attempt":1,"node_id":"label","source_node_id":"label","node_type":"string_format","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x1496cb168aa17be256b65c5e0ac9689fb553a4382ab6cddab4a1f0d70fd8d6f1', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (88, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.10', 6, 'f5a5a6b2-7f80-493c-978e-11ea2d29ad0e', 'invocation.completed', 1, 1796247427314604, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.10","attempt":1,"node_id":"label","source_node_id":"label","node_type":"string_format","worker_id":"worker-7211-75d7fc-0","outputs":{"value":"computed","type":"string_output"},"measurement":{"started_at":null,"ended_at":null,"wall_seconds":null,"rss_before":null,"rss_after":null,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"c13a5b8e49d1a6e3e1ed3102900ae82b19c58ffbbf0eeb553f19cd16081998ce","cached":true}', '{}', '\xbf72834f8db14a2bf77f1e7ba2b8a87fa7794db21d31c3712e2ae941efa99de1', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (89, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.10', 7, '28d16df5-03e2-417a-985a-1f1f5ebe64f9', 'session.completed', 1, 1796247427314604, '{"type":"session.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.10","attempt":1}', '{}', '\xcec043cf60e7a86ecf21f675edff4909b689f386efc800a3de7a14706a197be2', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (90, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.11', 0, '9a9805aa-6b78-499e-b6ea-d6af2948458c', 'session.started', 1, 1796247427316454, '{"type":"session.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.11","attempt":1,"worker_id":"worker-7211-75d7fc-0"}', '{}', '\x41eb9c45cd446967652d19e4ca82ade6dc80e36ff2d2641d508019ecc389ac10', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (91, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.11', 1, 'db4529eb-6a81-48f4-a41e-e4d5764dcd4c', 'invocation.started', 1, 1796247427317934, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.11","attempt":1,"node_id":"add","source_node_id":"add","node_type":"add","worker_id":"worker-7211-75d7fc-0"}', '{}', '\xc5739c8552610611ae71aeae191c914d65739b841f96577c64d1b5fd91ff196a', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (92, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.11', 2, 'b17c55c0-de92-4f55-b379-1ead1ac0d08f', 'invocation.completed', 1, 1796247427326559, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.11","attempt":1,"node_id":"add","source_node_id":"add","node_type":"add","worker_id":"worker-7211-75d7fc-0","outputs":{"value":43,"type":"integer_output"},"measurement":{"started_at":"2026-12-02T21:37:07.325652Z","ended_at":"2026-12-02T21:37:07.325696Z","wall_seconds":0.000031957000828697346,"rss_before":61116416,"rss_after":61116416,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"b8aedc2c42034119a5b8961d5b7a03fa9a6537a30bce433fe540c2c04f714a64","cached":false}', '{}', '\xea5ed791ae929c141c9eb372c396b2905eaac671a4f8eb7dd3f357e2cab4cb2f', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (93, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.11', 3, '3a7803d8-495a-4788-83eb-df7d6061eeea', 'invocation.started', 1, 1796247427326559, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.11","attempt":1,"node_id":"multiply","source_node_id":"multiply","node_type":"multiply","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x46161ad4ef8d640e9aad7dc9830ca080d9f4690374b539993906b2b1d67b4d01', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (94, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.11', 4, 'f5e8f6ea-e8f4-4674-bccf-5ff6f11be239', 'invocation.completed', 1, 1796247427328990, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.11","attempt":1,"node_id":"multiply","source_node_id":"multiply","node_type":"multiply","worker_id":"worker-7211-75d7fc-0","outputs":{"value":430,"type":"integer_output"},"measurement":{"started_at":"2026-12-02T21:37:07.328130Z","ended_at":"2026-12-02T21:37:07.328158Z","wall_seconds":0.000022013000489096157,"rss_before":61124608,"rss_after":61124608,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"d9ef8f43610e260518c004043a37c7d09d293133105879ff094725ec94672042","cached":false}', '{}', '\x70074030c439c68be852ceefa34df4fc5548b73cdcbc2773fdb0c6ffef47a3dc', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (95, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.11', 5, '5828ddb2-7a8e-4985-9c99-a30f448cbecf', 'invocation.started', 1, 1796247427328990, '{"type":"invocation.started","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.11","attempt":1,"node_id":"label","source_node_id":"label","node_type":"string_format","worker_id":"worker-7211-75d7fc-0"}', '{}', '\x05afe1a12b6adbfaacbed2a194ad1e4fdfcc297060ec5979c0f0985de0d2d869', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (96, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.11', 6, 'ae866631-9792-463d-87b0-cd6eebab4e12', 'invocation.completed', 1, 1796247427328990, '{"type":"invocation.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.11","attempt":1,"node_id":"label","source_node_id":"label","node_type":"string_format","worker_id":"worker-7211-75d7fc-0","outputs":{"value":"computed","type":"string_output"},"measurement":{"started_at":null,"ended_at":null,"wall_seconds":null,"rss_before":null,"rss_after":null,"vram_peak":null,"vram_delta":null,"overlapped":false},"cache_key":"c13a5b8e49d1a6e3e1ed3102900ae82b19c58ffbbf0eeb553f19cd16081998ce","cached":true}', '{}', '\xe6380bf1a8606708a4408a29b6de6b78fcac066bde496b1e86f457a847e1aa10', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (97, 'session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.11', 7, '1499ab51-8672-483b-8b0d-629c9a29be28', 'session.completed', 1, 1796247427328990, '{"type":"session.completed","queue_id":"default","batch_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46","session_id":"cf72bd19-4571-4f66-8d75-d4b2cc621c46.11","attempt":1}', '{}', '\x6cf4329ad6e94e6cf94ef54c994d87a33343e69132c34f2fc7c88b2ded77eee5', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (98, 'batch-fixture', 0, '88e6e32f-5c3e-4e47-ae7a-3fdfc08be500', 'batch.enqueued', 1, 1796247427831350, '{"type":"batch.enqueued","queue_id":"default","batch_id":"fixture","graph":{"nodes":{},"edges":[]},"data":[],"runs":1,"priority":0,"session_count":3,"origin":null,"destination":null}', '{}', '\xd8f96afff1d4ecc6136869919f0b53806b0b97a70d69d21dc869602a7efad2d5', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (99, 'batch-fixture', 1, '4c821329-edd0-40a6-aa1f-15ddbb6ec8f2', 'batch.reprioritized', 1, 1796247427831350, '{"type":"batch.reprioritized","queue_id":"default","batch_id":"fixture","priority":5}', '{}', '\x152f75412f3c791d4168deb0b1959b4ea8bb8db7ce30bee326bf85c909b120ac', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (100, 'session-fixture.0', 0, '915a4328-a96c-4295-9da1-8a33d8ee44e1', 'session.started', 1, 1796247427836324, '{"type":"session.started","queue_id":"default","batch_id":"fixture","session_id":"fixture.0","attempt":1,"worker_id":"w1"}', '{}', '\x281a45587d87d9ae6ae6a55adab43ef0f59866cc0a854d568eb449b8cdac1a09', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (101, 'session-fixture.0', 1, 'a6fb686c-b07f-48e5-9785-01fa719fe31f', 'session.resumed', 1, 1796247427840485, '{"type":"session.resumed","queue_id":"default","batch_id":"fixture","session_id":"fixture.0","attempt":1,"worker_id":"w2","previous_worker_id":"w1","resumes":1}', '{}', '\xc3ed38c03ccf3018bf1327bf0276aa106ac4ea69024bb34951b5d400ed48b3a8', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (102, 'session-fixture.0', 2, '26c7b890-6416-44fa-90fc-690f38a488df', 'invocation.started', 1, 1796247427840485, '{"type":"invocation.started","queue_id":"default","batch_id":"fixture","session_id":"fixture.0","attempt":1,"node_id":"n","source_node_id":"n","node_type":"add","worker_id":"w2"}', '{}', '\xca0f381a8193ff046582ab99a5e3cee0c6d5b58c6bf5bfcf8e3e61a381434d50', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (103, 'session-fixture.0', 3, 'b3239ea4-431b-4773-8c4d-79d26ccd3894', 'invocation.failed', 1, 1796247427840485, '{"type":"invocation.failed","queue_id":"default","batch_id":"fixture","session_id":"fixture.0","attempt":1,"node_id":"n","source_node_id":"n","node_type":"add","worker_id":"w2","error_type":"ValueError","error_message":"no","error_traceback":"","measurement":{"started_at":null,"ended_at":null,"wall_seconds":null,"rss_before":null,"rss_after":null,"vram_peak":null,"vram_delta":null,"overlapped":false}}', '{}', '\xe297051de8b38ce1a3db2b7b673700d10bc91d4144dab4e8d63283e3fad70573', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (104, 'session-fixture.0', 4, '2a54e234-76f4-4c59-b41c-6a125e467fa8', 'session.failed', 1, 1796247427840485, '{"type":"session.failed","queue_id":"default","batch_id":"fixture","session_id":"fixture.0","attempt":1,"error_type":"ValueError","error_message":"no","node_id":null}', '{}', '\xd21c137ba7d5b13050dd0fbab064ad57482ae486527776eec0a3782566990f96', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (105, 'session-fixture.0', 5, '595d0761-bd41-4f3b-8327-6a4a4a007d28', 'session.retried', 1, 1796247427840485, '{"type":"session.retried","queue_id":"default","batch_id":"fixture","session_id":"fixture.0","attempt":2}', '{}', '\x16ad8651fa5c898fc0ea4a92562e9d050ada53d4e41a454ea1ba8a3561ca71a8', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (106, 'session-fixture.0', 6, 'cee1af11-f58a-43a0-ab0e-2b55f1487e6f', 'session.canceled', 1, 1796247427840485, '{"type":"session.canceled","queue_id":"default","batch_id":"fixture","session_id":"fixture.0","attempt":2,"reason":"fixture"}', '{}', '\x702b1a19d85b833516f7f95e9636cd3effbb982c1bb8652b941c7f55840f7b8d', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (107, 'session-fixture.1', 0, '90e829c2-de64-47cd-80fd-8e56d0fe8e0e', 'session.started', 1, 1796247427843934, '{"type":"session.started","queue_id":"default","batch_id":"fixture","session_id":"fixture.1","attempt":1,"worker_id":"w1"}', '{}', '\x2b2509286f090f4e40c92074bdcaed8e99694212cda916cea0fe1eac85453757', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (108, 'session-fixture.1', 1, 'a4938d82-ae8f-4755-945c-d0f8b5c2f93a', 'graph.invalid', 1, 1796247427843934, '{"type":"graph.invalid","queue_id":"default","batch_id":"fixture","session_id":"fixture.1","attempt":1,"problems":[]}', '{}', '\x396cc7b2ced2811614f61492ee04d95a3e288a5e0f0d3116f2d2ba55ad282d02', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (109, 'session-fixture.1', 2, 'fc88960e-9c90-4124-9d0f-64e2df1479f4', 'session.failed', 1, 1796247427843934, '{"type":"session.failed","queue_id":"default","batch_id":"fixture","session_id":"fixture.1","attempt":1,"error_type":"GraphValidationError","error_message":"invalid","node_id":null}', '{}', '\x268f0a41aa2bf5ca34035c56fa441b8eebce98c2a1dffd6317a03b9b45d99740', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (110, 'batch-fixture', 2, 'd23ac7ef-8727-478d-8bc2-e63afd3d03ee', 'batch.canceled', 1, 1796247427847859, '{"type":"batch.canceled","queue_id":"default","batch_id":"fixture","reason":"fixture"}', '{}', '\xb765d85984f16f07e51e2cbd54884d45820200eae26f415957e908423a9fc041', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (111, 'queue-default', 0, 'b42a597d-efe0-4429-a6d4-38ceae971f4c', 'queue.paused', 1, 1796247427853003, '{"type":"queue.paused","queue_id":"default"}', '{}', '\x1b8dfe061e74208d80a94a6fc15a9367b6d710aba3fb3b5b329b664506d39750', -1);
INSERT INTO eventsvc_fixture_v1.events VALUES (112, 'queue-default', 1, 'e1a98194-5cd9-415e-9899-c8d374bf39f2', 'queue.resumed', 1, 1796247427853003, '{"type":"queue.resumed","queue_id":"default"}', '{}', '\x421fae9b060421e50b2280ebfb68815554c5bad714d9b12e46489b331bf4a257', -1);


--
-- Data for Name: eventsvc_schema; Type: TABLE DATA; Schema: eventsvc_fixture_v1; Owner: -
--

INSERT INTO eventsvc_fixture_v1.eventsvc_schema VALUES (1);


--
-- Data for Name: leases; Type: TABLE DATA; Schema: eventsvc_fixture_v1; Owner: -
--

INSERT INTO eventsvc_fixture_v1.leases VALUES ('projection:stats', 1, 'vm pid 7199 store b813c0eb', 7228, '2026-12-02 21:37:13.113677+00');
INSERT INTO eventsvc_fixture_v1.leases VALUES ('sealer', 1, 'vm pid 7199 store b813c0eb', 7225, '-infinity');
INSERT INTO eventsvc_fixture_v1.leases VALUES ('projection:queue', 1, 'vm pid 7199 store b813c0eb', 7227, '2026-12-02 21:37:13.134452+00');


--
-- Data for Name: projection_checkpoints; Type: TABLE DATA; Schema: eventsvc_fixture_v1; Owner: -
--

INSERT INTO eventsvc_fixture_v1.projection_checkpoints VALUES ('stats', 113);
INSERT INTO eventsvc_fixture_v1.projection_checkpoints VALUES ('queue', 113);


--
-- Data for Name: projection_schemas; Type: TABLE DATA; Schema: eventsvc_fixture_v1; Owner: -
--

INSERT INTO eventsvc_fixture_v1.projection_schemas VALUES ('queue', '1186f97d3d192067b9a499ca168ffda077bcc63c4b034ebf4dbe5c3cf95d814e');
INSERT INTO eventsvc_fixture_v1.projection_schemas VALUES ('stats', '885946618a15afeb3aa93bc09c719944146d2fdbd9be4fb5a4bf2ff803aad18b');


--
-- Data for Name: projection_stalls; Type: TABLE DATA; Schema: eventsvc_fixture_v1; Owner: -
--



--
-- Data for Name: queue_batches; Type: TABLE DATA; Schema: eventsvc_fixture_v1; Owner: -
--

INSERT INTO eventsvc_fixture_v1.queue_batches VALUES ('cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'default', 1, 0, 12, 12, NULL, NULL, NULL, 1796247427203266, 1, 0, 0, 12, 0, 0);
INSERT INTO eventsvc_fixture_v1.queue_batches VALUES ('fixture', 'default', 98, 5, 3, 2, 110, NULL, NULL, 1796247427831350, 1, 0, 0, 0, 1, 2);


--
-- Data for Name: queue_sessions; Type: TABLE DATA; Schema: eventsvc_fixture_v1; Owner: -
--

INSERT INTO eventsvc_fixture_v1.queue_sessions VALUES ('cf72bd19-4571-4f66-8d75-d4b2cc621c46.0', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 0, 'default', 0, 1, 'completed', 1, 'worker-7211-75d7fc-0', 9, 1796247427208783, 1796247427236729, NULL, NULL);
INSERT INTO eventsvc_fixture_v1.queue_sessions VALUES ('cf72bd19-4571-4f66-8d75-d4b2cc621c46.1', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 1, 'default', 0, 1, 'completed', 1, 'worker-7211-75d7fc-0', 17, 1796247427238356, 1796247427252684, NULL, NULL);
INSERT INTO eventsvc_fixture_v1.queue_sessions VALUES ('cf72bd19-4571-4f66-8d75-d4b2cc621c46.2', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 2, 'default', 0, 1, 'completed', 1, 'worker-7211-75d7fc-0', 25, 1796247427254716, 1796247427260190, NULL, NULL);
INSERT INTO eventsvc_fixture_v1.queue_sessions VALUES ('cf72bd19-4571-4f66-8d75-d4b2cc621c46.3', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 3, 'default', 0, 1, 'completed', 1, 'worker-7211-75d7fc-0', 33, 1796247427261919, 1796247427266611, NULL, NULL);
INSERT INTO eventsvc_fixture_v1.queue_sessions VALUES ('cf72bd19-4571-4f66-8d75-d4b2cc621c46.4', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 4, 'default', 0, 1, 'completed', 1, 'worker-7211-75d7fc-0', 41, 1796247427268181, 1796247427272581, NULL, NULL);
INSERT INTO eventsvc_fixture_v1.queue_sessions VALUES ('cf72bd19-4571-4f66-8d75-d4b2cc621c46.5', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 5, 'default', 0, 1, 'completed', 1, 'worker-7211-75d7fc-0', 49, 1796247427276265, 1796247427281042, NULL, NULL);
INSERT INTO eventsvc_fixture_v1.queue_sessions VALUES ('cf72bd19-4571-4f66-8d75-d4b2cc621c46.6', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 6, 'default', 0, 1, 'completed', 1, 'worker-7211-75d7fc-0', 57, 1796247427282686, 1796247427287497, NULL, NULL);
INSERT INTO eventsvc_fixture_v1.queue_sessions VALUES ('cf72bd19-4571-4f66-8d75-d4b2cc621c46.7', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 7, 'default', 0, 1, 'completed', 1, 'worker-7211-75d7fc-0', 65, 1796247427289379, 1796247427295098, NULL, NULL);
INSERT INTO eventsvc_fixture_v1.queue_sessions VALUES ('cf72bd19-4571-4f66-8d75-d4b2cc621c46.8', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 8, 'default', 0, 1, 'completed', 1, 'worker-7211-75d7fc-0', 73, 1796247427296685, 1796247427301684, NULL, NULL);
INSERT INTO eventsvc_fixture_v1.queue_sessions VALUES ('cf72bd19-4571-4f66-8d75-d4b2cc621c46.9', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 9, 'default', 0, 1, 'completed', 1, 'worker-7211-75d7fc-0', 81, 1796247427303388, 1796247427307955, NULL, NULL);
INSERT INTO eventsvc_fixture_v1.queue_sessions VALUES ('cf72bd19-4571-4f66-8d75-d4b2cc621c46.10', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 10, 'default', 0, 1, 'completed', 1, 'worker-7211-75d7fc-0', 89, 1796247427309719, 1796247427314604, NULL, NULL);
INSERT INTO eventsvc_fixture_v1.queue_sessions VALUES ('cf72bd19-4571-4f66-8d75-d4b2cc621c46.11', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 11, 'default', 0, 1, 'completed', 1, 'worker-7211-75d7fc-0', 97, 1796247427316454, 1796247427328990, NULL, NULL);
INSERT INTO eventsvc_fixture_v1.queue_sessions VALUES ('fixture.0', 'fixture', 0, 'default', 5, 98, 'canceled', 2, 'w2', 106, 1796247427836324, 1796247427840485, NULL, NULL);
INSERT INTO eventsvc_fixture_v1.queue_sessions VALUES ('fixture.1', 'fixture', 1, 'default', 5, 98, 'failed', 1, 'w1', 109, 1796247427843934, 1796247427843934, 'GraphValidationError', 'invalid');


--
-- Data for Name: queue_state; Type: TABLE DATA; Schema: eventsvc_fixture_v1; Owner: -
--

INSERT INTO eventsvc_fixture_v1.queue_state VALUES ('default', 0, 113);


--
-- Data for Name: stats_runs; Type: TABLE DATA; Schema: eventsvc_fixture_v1; Owner: -
--

INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (4, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.0', 1, 'add', 'add', 0, 1796247427231431, 1796247427231493, 3.9347998608718626e-05, 60837888, 60841984, NULL, NULL, 0, 0, 1);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (6, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.0', 1, 'multiply', 'multiply', 0, 1796247427234037, 1796247427234069, 2.2853999325889163e-05, 60882944, 60882944, NULL, NULL, 0, 0, 1);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (8, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.0', 1, 'label', 'string_format', 0, 1796247427236229, 1796247427236272, 3.624400051194243e-05, 60895232, 60895232, NULL, NULL, 0, 0, 1);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (12, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.1', 1, 'add', 'add', 0, 1796247427240778, 1796247427240808, 1.97790013771737e-05, 60907520, 60907520, NULL, NULL, 0, 0, 1);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (14, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.1', 1, 'multiply', 'multiply', 0, 1796247427251534, 1796247427251588, 3.895800000464078e-05, 60907520, 60907520, NULL, NULL, 0, 0, 1);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (16, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.1', 1, 'label', 'string_format', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 1, 0);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (20, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.2', 1, 'add', 'add', 0, 1796247427257367, 1796247427257407, 2.5968000045395456e-05, 60928000, 60928000, NULL, NULL, 0, 0, 1);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (22, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.2', 1, 'multiply', 'multiply', 0, 1796247427259387, 1796247427259416, 2.0370998754515313e-05, 60940288, 60940288, NULL, NULL, 0, 0, 1);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (24, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.2', 1, 'label', 'string_format', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 1, 0);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (28, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.3', 1, 'add', 'add', 0, 1796247427264271, 1796247427264299, 1.7517000742373057e-05, 60948480, 60948480, NULL, NULL, 0, 0, 1);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (30, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.3', 1, 'multiply', 'multiply', 0, 1796247427265965, 1796247427265981, 1.2047999916831031e-05, 60964864, 60964864, NULL, NULL, 0, 0, 1);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (32, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.3', 1, 'label', 'string_format', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 1, 0);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (36, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.4', 1, 'add', 'add', 0, 1796247427270263, 1796247427270287, 1.5663001249777153e-05, 60977152, 60977152, NULL, NULL, 0, 0, 1);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (38, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.4', 1, 'multiply', 'multiply', 0, 1796247427271927, 1796247427271943, 1.2467999113141559e-05, 60985344, 60985344, NULL, NULL, 0, 0, 1);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (40, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.4', 1, 'label', 'string_format', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 1, 0);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (44, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.5', 1, 'add', 'add', 0, 1796247427278843, 1796247427278875, 2.1391999325715005e-05, 61001728, 61001728, NULL, NULL, 0, 0, 1);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (46, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.5', 1, 'multiply', 'multiply', 0, 1796247427280488, 1796247427280507, 1.3820999811287038e-05, 61009920, 61009920, NULL, NULL, 0, 0, 1);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (48, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.5', 1, 'label', 'string_format', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 1, 0);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (52, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.6', 1, 'add', 'add', 0, 1796247427285016, 1796247427285038, 1.5112998880795203e-05, 61022208, 61022208, NULL, NULL, 0, 0, 1);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (54, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.6', 1, 'multiply', 'multiply', 0, 1796247427286784, 1796247427286804, 1.4070999895920977e-05, 61034496, 61034496, NULL, NULL, 0, 0, 1);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (56, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.6', 1, 'label', 'string_format', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 1, 0);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (60, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.7', 1, 'add', 'add', 0, 1796247427292491, 1796247427292520, 1.9068000256083906e-05, 61046784, 61046784, NULL, NULL, 0, 0, 1);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (62, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.7', 1, 'multiply', 'multiply', 0, 1796247427294300, 1796247427294318, 1.3169999874662608e-05, 61046784, 61046784, NULL, NULL, 0, 0, 1);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (64, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.7', 1, 'label', 'string_format', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 1, 0);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (68, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.8', 1, 'add', 'add', 0, 1796247427299126, 1796247427299158, 1.9207998775527813e-05, 61050880, 61050880, NULL, NULL, 0, 0, 1);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (70, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.8', 1, 'multiply', 'multiply', 0, 1796247427301003, 1796247427301025, 1.5772999176988378e-05, 61054976, 61054976, NULL, NULL, 0, 0, 1);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (72, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.8', 1, 'label', 'string_format', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 1, 0);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (76, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.9', 1, 'add', 'add', 0, 1796247427305734, 1796247427305759, 1.540300036140252e-05, 61083648, 61083648, NULL, NULL, 0, 0, 1);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (78, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.9', 1, 'multiply', 'multiply', 0, 1796247427307348, 1796247427307366, 1.3109000065014698e-05, 61087744, 61087744, NULL, NULL, 0, 0, 1);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (80, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.9', 1, 'label', 'string_format', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 1, 0);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (84, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.10', 1, 'add', 'add', 0, 1796247427312075, 1796247427312101, 1.5842999346205033e-05, 61100032, 61100032, NULL, NULL, 0, 0, 1);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (86, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.10', 1, 'multiply', 'multiply', 0, 1796247427313932, 1796247427313952, 1.5363000784418546e-05, 61112320, 61112320, NULL, NULL, 0, 0, 1);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (88, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.10', 1, 'label', 'string_format', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 1, 0);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (92, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.11', 1, 'add', 'add', 0, 1796247427325652, 1796247427325696, 3.1957000828697346e-05, 61116416, 61116416, NULL, NULL, 0, 0, 1);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (94, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.11', 1, 'multiply', 'multiply', 0, 1796247427328130, 1796247427328158, 2.2013000489096157e-05, 61124608, 61124608, NULL, NULL, 0, 0, 1);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (96, 'default', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46', 'cf72bd19-4571-4f66-8d75-d4b2cc621c46.11', 1, 'label', 'string_format', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 1, 0);
INSERT INTO eventsvc_fixture_v1.stats_runs VALUES (103, 'default', 'fixture', 'fixture.0', 1, 'n', 'add', 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0);


--
-- Data for Name: streams; Type: TABLE DATA; Schema: eventsvc_fixture_v1; Owner: -
--

INSERT INTO eventsvc_fixture_v1.streams VALUES ('session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.11', 7);
INSERT INTO eventsvc_fixture_v1.streams VALUES ('session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.7', 7);
INSERT INTO eventsvc_fixture_v1.streams VALUES ('session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.8', 7);
INSERT INTO eventsvc_fixture_v1.streams VALUES ('session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.4', 7);
INSERT INTO eventsvc_fixture_v1.streams VALUES ('session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.3', 7);
INSERT INTO eventsvc_fixture_v1.streams VALUES ('session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.5', 7);
INSERT INTO eventsvc_fixture_v1.streams VALUES ('session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.2', 7);
INSERT INTO eventsvc_fixture_v1.streams VALUES ('session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.0', 7);
INSERT INTO eventsvc_fixture_v1.streams VALUES ('session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.6', 7);
INSERT INTO eventsvc_fixture_v1.streams VALUES ('session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.1', 7);
INSERT INTO eventsvc_fixture_v1.streams VALUES ('session-fixture.0', 6);
INSERT INTO eventsvc_fixture_v1.streams VALUES ('batch-fixture', 2);
INSERT INTO eventsvc_fixture_v1.streams VALUES ('session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.10', 7);
INSERT INTO eventsvc_fixture_v1.streams VALUES ('batch-cf72bd19-4571-4f66-8d75-d4b2cc621c46', 0);
INSERT INTO eventsvc_fixture_v1.streams VALUES ('session-cf72bd19-4571-4f66-8d75-d4b2cc621c46.9', 7);
INSERT INTO eventsvc_fixture_v1.streams VALUES ('session-fixture.1', 2);
INSERT INTO eventsvc_fixture_v1.streams VALUES ('queue-default', 2);


--
-- Name: events_batch; Type: SEQUENCE SET; Schema: eventsvc_fixture_v1; Owner: -
--

SELECT pg_catalog.setval('eventsvc_fixture_v1.events_batch', 1, false);


--
-- Name: artifact_refs artifact_refs_pkey; Type: CONSTRAINT; Schema: eventsvc_fixture_v1; Owner: -
--

ALTER TABLE ONLY eventsvc_fixture_v1.artifact_refs
    ADD CONSTRAINT artifact_refs_pkey PRIMARY KEY (sha256);


--
-- Name: artifacts artifacts_pkey; Type: CONSTRAINT; Schema: eventsvc_fixture_v1; Owner: -
--

ALTER TABLE ONLY eventsvc_fixture_v1.artifacts
    ADD CONSTRAINT artifacts_pkey PRIMARY KEY (sha256);


--
-- Name: leases leases_pkey; Type: CONSTRAINT; Schema: eventsvc_fixture_v1; Owner: -
--

ALTER TABLE ONLY eventsvc_fixture_v1.leases
    ADD CONSTRAINT leases_pkey PRIMARY KEY (name);


--
-- Name: projection_checkpoints projection_checkpoints_pkey; Type: CONSTRAINT; Schema: eventsvc_fixture_v1; Owner: -
--

ALTER TABLE ONLY eventsvc_fixture_v1.projection_checkpoints
    ADD CONSTRAINT projection_checkpoints_pkey PRIMARY KEY (name);


--
-- Name: projection_schemas projection_schemas_pkey; Type: CONSTRAINT; Schema: eventsvc_fixture_v1; Owner: -
--

ALTER TABLE ONLY eventsvc_fixture_v1.projection_schemas
    ADD CONSTRAINT projection_schemas_pkey PRIMARY KEY (name);


--
-- Name: projection_stalls projection_stalls_pkey; Type: CONSTRAINT; Schema: eventsvc_fixture_v1; Owner: -
--

ALTER TABLE ONLY eventsvc_fixture_v1.projection_stalls
    ADD CONSTRAINT projection_stalls_pkey PRIMARY KEY (name);


--
-- Name: queue_batches queue_batches_pkey; Type: CONSTRAINT; Schema: eventsvc_fixture_v1; Owner: -
--

ALTER TABLE ONLY eventsvc_fixture_v1.queue_batches
    ADD CONSTRAINT queue_batches_pkey PRIMARY KEY (batch_id);


--
-- Name: queue_sessions queue_sessions_pkey; Type: CONSTRAINT; Schema: eventsvc_fixture_v1; Owner: -
--

ALTER TABLE ONLY eventsvc_fixture_v1.queue_sessions
    ADD CONSTRAINT queue_sessions_pkey PRIMARY KEY (session_id);


--
-- Name: queue_state queue_state_pkey; Type: CONSTRAINT; Schema: eventsvc_fixture_v1; Owner: -
--

ALTER TABLE ONLY eventsvc_fixture_v1.queue_state
    ADD CONSTRAINT queue_state_pkey PRIMARY KEY (queue_id);


--
-- Name: stats_runs stats_runs_pkey; Type: CONSTRAINT; Schema: eventsvc_fixture_v1; Owner: -
--

ALTER TABLE ONLY eventsvc_fixture_v1.stats_runs
    ADD CONSTRAINT stats_runs_pkey PRIMARY KEY ("position");


--
-- Name: streams streams_pkey; Type: CONSTRAINT; Schema: eventsvc_fixture_v1; Owner: -
--

ALTER TABLE ONLY eventsvc_fixture_v1.streams
    ADD CONSTRAINT streams_pkey PRIMARY KEY (stream);


--
-- Name: events_event_id; Type: INDEX; Schema: eventsvc_fixture_v1; Owner: -
--

CREATE UNIQUE INDEX events_event_id ON eventsvc_fixture_v1.events USING btree (event_id);


--
-- Name: events_position; Type: INDEX; Schema: eventsvc_fixture_v1; Owner: -
--

CREATE UNIQUE INDEX events_position ON eventsvc_fixture_v1.events USING btree ("position") WHERE ("position" IS NOT NULL);


--
-- Name: events_stream_version; Type: INDEX; Schema: eventsvc_fixture_v1; Owner: -
--

CREATE UNIQUE INDEX events_stream_version ON eventsvc_fixture_v1.events USING btree (stream, version);


--
-- Name: events_unsealed; Type: INDEX; Schema: eventsvc_fixture_v1; Owner: -
--

CREATE INDEX events_unsealed ON eventsvc_fixture_v1.events USING btree (batch, version) WHERE ("position" IS NULL);


--
-- Name: queue_batches_order; Type: INDEX; Schema: eventsvc_fixture_v1; Owner: -
--

CREATE INDEX queue_batches_order ON eventsvc_fixture_v1.queue_batches USING btree (queue_id, "position");


--
-- Name: queue_batches_runnable; Type: INDEX; Schema: eventsvc_fixture_v1; Owner: -
--

CREATE INDEX queue_batches_runnable ON eventsvc_fixture_v1.queue_batches USING btree (queue_id, priority DESC, "position") WHERE ((canceled_at IS NULL) AND (cursor < session_count));


--
-- Name: queue_sessions_index; Type: INDEX; Schema: eventsvc_fixture_v1; Owner: -
--

CREATE UNIQUE INDEX queue_sessions_index ON eventsvc_fixture_v1.queue_sessions USING btree (batch_id, idx);


--
-- Name: queue_sessions_runnable; Type: INDEX; Schema: eventsvc_fixture_v1; Owner: -
--

CREATE INDEX queue_sessions_runnable ON eventsvc_fixture_v1.queue_sessions USING btree (queue_id, priority DESC, batch_position, idx) WHERE (status = 'uninitialized'::text);


--
-- Name: stats_runs_batch; Type: INDEX; Schema: eventsvc_fixture_v1; Owner: -
--

CREATE INDEX stats_runs_batch ON eventsvc_fixture_v1.stats_runs USING btree (batch_id);


--
-- Name: stats_runs_session; Type: INDEX; Schema: eventsvc_fixture_v1; Owner: -
--

CREATE INDEX stats_runs_session ON eventsvc_fixture_v1.stats_runs USING btree (session_id);


--
-- Name: stats_runs_type; Type: INDEX; Schema: eventsvc_fixture_v1; Owner: -
--

CREATE INDEX stats_runs_type ON eventsvc_fixture_v1.stats_runs USING btree (node_type);


--
-- PostgreSQL database dump complete
--

\unrestrict no0ed0t6tc4PAJGQwBUVEOiwjC9Pci2fCJB9yaMIOQTcsnU3EoE6A5gx5E6HCXH

