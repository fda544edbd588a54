-- tokenbus's durable history (README "Durable history"). Everything lives in the schema "tokenbus";
-- Flyway records what it applied in tokenbus.flyway_schema_history. Times a client sees are Unix
-- seconds (bigint), as the API gives them; times only tokenbus reads are timestamptz.

-- A chat session: its settings, and who ever joined it. Expires (with its messages) at expires_at,
-- which each message and answer moves to sessions.idle-expiry-seconds ahead.
CREATE TABLE sessions (
  id           text COLLATE "C" PRIMARY KEY,
  tenant       text NOT NULL,
  title        text NOT NULL,
  model        text NOT NULL,
  system       text NOT NULL,
  created      bigint NOT NULL,
  -- The user a JWT named when it created the session (sub), or null.
  creator      text,
  participants jsonb NOT NULL DEFAULT '[]',
  -- The highest event seq of the session written here: a session rebuilt after a full restart
  -- numbers its events after it.
  seq          bigint NOT NULL DEFAULT 0,
  expires_at   timestamptz NOT NULL
);
CREATE INDEX sessions_listing ON sessions (tenant, created DESC, id DESC);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- A message of a session's transcript: a user's, or an assistant's answer with its generation.
CREATE TABLE messages (
  session_id    text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  id            text NOT NULL,
  -- The seq of the event that added it to the session: the transcript's order.
  position      bigint NOT NULL,
  role          text NOT NULL,
  author        text NOT NULL,
  content       text NOT NULL,
  created       bigint NOT NULL,
  generation    text,
  -- streaming, completed, failed, stopped, interrupted (assistant messages only).
  status        text,
  finish_reason text,
  error         text,
  reply_to      text,
  -- Which write this row holds: the generation seq a checkpoint saw; 9223372036854775807 once the
  -- answer ended. A write never replaces a later one.
  version       bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (session_id, id)
);
CREATE INDEX messages_order ON messages (session_id, position);

-- A finished generation, kept database.retention-days after it finished.
CREATE TABLE generations (
  id            text COLLATE "C" PRIMARY KEY,
  tenant        text NOT NULL,
  model         text NOT NULL,
  created       bigint NOT NULL,
  metadata      jsonb NOT NULL DEFAULT '{}',
  session_id    text,
  message_id    text,
  -- completed, failed, cancelled
  status        text NOT NULL,
  text          text NOT NULL,
  -- OpenAI's tool_calls array, assembled, or null.
  tool_calls    jsonb,
  finish_reason text,
  prompt_tokens     bigint,
  completion_tokens bigint,
  -- {"status","type","code","message"} of a failed one.
  error         jsonb,
  recoveries    integer NOT NULL DEFAULT 0,
  last_recovery jsonb,
  -- The seq of its terminal event, of its last reset (0: none), and for each delta after that
  -- reset its seq and where its text ends in "text": a client resuming from any seq gets the rest.
  last_seq      bigint NOT NULL,
  reset_seq     bigint NOT NULL DEFAULT 0,
  delta_seqs    bigint[] NOT NULL DEFAULT '{}',
  delta_ends    integer[] NOT NULL DEFAULT '{}',
  ttft_ms       bigint,
  duration_ms   bigint,
  finished_at   timestamptz NOT NULL
);
CREATE INDEX generations_listing ON generations (tenant, created DESC, id DESC);
CREATE INDEX generations_recent ON generations (created DESC, id DESC);
CREATE INDEX generations_expiry ON generations (finished_at);

-- Per tenant and UTC day: the completion tokens counted against limits.completion-tokens-per-day.
CREATE TABLE usage (
  tenant            text NOT NULL,
  day               date NOT NULL,
  completion_tokens bigint NOT NULL DEFAULT 0,
  generations       bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant, day)
);
