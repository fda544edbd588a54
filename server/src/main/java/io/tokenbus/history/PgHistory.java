package io.tokenbus.history;

import io.tokenbus.bus.Creator;
import io.tokenbus.bus.EventType;
import io.tokenbus.bus.Failure;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.bus.SessionLink;
import io.tokenbus.bus.Usage;
import io.tokenbus.config.TokenbusConfig;
import io.tokenbus.generation.GenerationHistory;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.GenerationQuery;
import io.tokenbus.generation.GenerationSnapshot;
import io.tokenbus.generation.GenerationStatus;
import io.tokenbus.generation.GenerationStore;
import io.tokenbus.generation.GenerationSummary;
import io.tokenbus.generation.LogFold;
import io.tokenbus.generation.ToolCallAssembler;
import io.tokenbus.metrics.Metrics;
import io.tokenbus.session.HistoryUnavailableException;
import io.tokenbus.session.SessionEvent;
import io.tokenbus.session.SessionHistory;
import io.tokenbus.session.SessionMessage;
import io.tokenbus.session.SessionQuery;
import io.tokenbus.session.SessionState;
import io.tokenbus.session.SessionSummary;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The durable history in PostgreSQL (schema {@code tokenbus}, see the migrations): sessions with
 * their messages, finished generations, and each tenant's daily usage. Every write goes through the
 * node's {@link WriteQueue}, in order, a batch per transaction; reads go straight to the pool.
 * Writes are idempotent (inserts that do nothing on conflict, updates guarded by a version), so a
 * batch tried again, or the same change written from two nodes, lands once.
 */
public final class PgHistory implements SessionHistory, GenerationHistory {

  private static final Logger LOG = LoggerFactory.getLogger(PgHistory.class);

  /** A message's version once its answer ended: no checkpoint writes over it. */
  static final long ENDED = Long.MAX_VALUE;

  /** How often finished generations past their retention and expired sessions are deleted. */
  static final long SWEEP_MS = 60_000;

  /** Rows deleted per table and sweep at most, so one sweep is never a long transaction. */
  static final int SWEEP_ROWS = 10_000;

  private final Vertx vertx;
  private Pool pool;
  private Pool writer;
  private final TokenbusConfig.Database config;
  private final TokenbusConfig.Sessions sessions;
  private final GenerationStore live;
  private final Metrics metrics;
  private WriteQueue queue;

  /**
   * @param live the store running generations live, whose log a finished one is read from
   */
  public PgHistory(
      Vertx vertx,
      TokenbusConfig.Database config,
      TokenbusConfig.Sessions sessions,
      GenerationStore live,
      Metrics metrics) {
    this.vertx = vertx;
    this.config = config;
    this.sessions = sessions;
    this.live = live;
    this.metrics = metrics;
  }

  /**
   * Opens the pool and starts the write queue and the retention sweep. Once the node's verticles
   * are deployed: each makes contexts, which made earlier would shift the verticles' event loops.
   * The schema is migrated before ({@link Database#migrate}).
   */
  public void start() {
    pool = Database.pool(vertx, config);
    writer = Database.writer(vertx, config);
    queue = new WriteQueue(vertx, writer, config.maxQueuedWrites(), metrics);
    vertx.setPeriodic(SWEEP_MS, SWEEP_MS, t -> sweep());
  }

  public WriteQueue queue() {
    return queue;
  }

  /**
   * Before the node closes its pools: waits (at most {@code timeoutMs}) for the writes it accepted
   * to be written, so a graceful stop loses none.
   */
  public Future<Void> flush(long timeoutMs) {
    return queue == null ? Future.succeededFuture() : queue.flush(timeoutMs);
  }

  @Override
  public boolean enabled() {
    return true;
  }

  /** True until {@link #start}: nothing is accepted before the queue exists. */
  @Override
  public boolean full() {
    return queue == null || queue.full();
  }

  /** A write of a few statements, described for logs by what it writes and its ids. */
  private record Statements(String describe, List<Statement> statements)
      implements WriteQueue.Write {
    /** Sends every statement at once: the connection pipelines them, in order. */
    @Override
    public Future<?> run(SqlConnection connection) {
      List<Future<?>> sent = new ArrayList<>(statements.size());
      for (Statement statement : statements) {
        sent.add(connection.preparedQuery(statement.sql()).execute(statement.args()));
      }
      return Future.all(sent);
    }
  }

  /** One statement; its text values are {@link #clean}ed as it is made. */
  private record Statement(String sql, Tuple args) {
    Statement {
      args = clean(args);
    }
  }

  private static Statements write(String describe, Statement... statements) {
    return new Statements(describe, List.of(statements));
  }

  /**
   * The values with U+0000 replaced by U+FFFD: PostgreSQL's text and jsonb cannot hold it, and a
   * write refused for it would be lost. What was live keeps it; the history has the replacement.
   */
  static Tuple clean(Tuple args) {
    Tuple cleaned = null;
    for (int i = 0; i < args.size(); i++) {
      Object value = args.getValue(i);
      Object clean = value;
      if (value instanceof String text && text.indexOf('\0') >= 0) {
        clean = text.replace('\0', '\uFFFD');
      } else if (value instanceof JsonObject json && json.encode().contains("\\u0000")) {
        clean = new JsonObject(json.encode().replace("\\u0000", "\\ufffd"));
      } else if (value instanceof JsonArray json && json.encode().contains("\\u0000")) {
        clean = new JsonArray(json.encode().replace("\\u0000", "\\ufffd"));
      }
      if (clean != value && cleaned == null) {
        cleaned = Tuple.tuple();
        for (int j = 0; j < i; j++) {
          cleaned.addValue(args.getValue(j));
        }
      }
      if (cleaned != null) {
        cleaned.addValue(clean);
      }
    }
    return cleaned == null ? args : cleaned;
  }

  /** Offers to the queue; refused before {@link #start} (nothing is served before it). */
  private Future<Void> offer(WriteQueue.Kind kind, WriteQueue.Write write) {
    return queue == null
        ? Future.failedFuture(new HistoryUnavailableException())
        : queue.offer(kind, write);
  }

  // ---------------------------------------------------------------------------------------------
  // Sessions

  private static final String INSERT_SESSION =
      "INSERT INTO tokenbus.sessions (id, tenant, title, model, system, created, creator, seq,"
          + " expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
          + " now() + make_interval(secs => 60 + $9))"
          + " ON CONFLICT (id) DO NOTHING";

  /**
   * A message as its event adds it. An answer's end may have been written first (its generation ran
   * on another node, whose queue was faster): that row has position -1, which this one fixes.
   */
  private static final String INSERT_MESSAGE =
      "INSERT INTO tokenbus.messages (session_id, id, position, role, author, content, created,"
          + " generation, status, finish_reason, error, reply_to, version)"
          + " SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13"
          + " WHERE EXISTS (SELECT 1 FROM tokenbus.sessions WHERE id = $1)"
          + " ON CONFLICT (session_id, id) DO UPDATE SET position = excluded.position,"
          + " created = excluded.created, reply_to = excluded.reply_to"
          + " WHERE messages.position = -1";

  private static final String TOUCH_SESSION =
      "UPDATE tokenbus.sessions SET seq = greatest(seq, $2),"
          + " expires_at = greatest(expires_at, now() + make_interval(secs => 60 + $3))"
          + " WHERE id = $1";

  /**
   * Moves a live session's expiry on, as the live store's moves with every change: to the idle
   * expiry once anyone posted, the unused one before, plus a minute, since it is written at most
   * once a minute ({@link #KEEP_ALIVE_MS}).
   */
  private static final String KEEP_ALIVE =
      "UPDATE tokenbus.sessions SET expires_at = greatest(expires_at, now() + make_interval(secs"
          + " => 60 + CASE WHEN EXISTS (SELECT 1 FROM tokenbus.messages WHERE session_id = $1)"
          + " THEN $2 ELSE $3 END)) WHERE id = $1";

  private static final String END_ANSWER =
      "UPDATE tokenbus.messages SET status = $3, finish_reason = $4, error = $5, version = $6"
          + " WHERE session_id = $1 AND id = $2 AND version < $6";

  /** An answer's final text and status; its row made (position -1) if its insert is not in yet. */
  private static final String FINISH_ANSWER =
      "INSERT INTO tokenbus.messages (session_id, id, position, role, author, content, created,"
          + " generation, status, finish_reason, error, version)"
          + " SELECT $1, $2, -1, 'assistant', 'assistant', $3, $8, $9, $4, $5, $6, $7"
          + " WHERE EXISTS (SELECT 1 FROM tokenbus.sessions WHERE id = $1)"
          + " ON CONFLICT (session_id, id) DO UPDATE SET content = excluded.content,"
          + " status = excluded.status, finish_reason = excluded.finish_reason,"
          + " error = excluded.error, version = excluded.version"
          + " WHERE messages.version < excluded.version";

  private static final String CHECKPOINT =
      "UPDATE tokenbus.messages SET content = $3, version = $4"
          + " WHERE session_id = $1 AND id = $2 AND version < $4";

  private static final String JOINED =
      "UPDATE tokenbus.sessions SET participants = participants || to_jsonb($2::text)"
          + " WHERE id = $1 AND NOT participants ? $2";

  private static final String INTERRUPTED =
      "UPDATE tokenbus.messages SET status = 'interrupted', error = $2, version = $3"
          + " WHERE session_id = $1 AND status = 'streaming' AND version < $3";

  /** A live session's expiry is moved in the database at most this often, per node. */
  static final long KEEP_ALIVE_MS = 60_000;

  /** Sessions kept alive at most before {@link #kept} starts again. */
  static final int MAX_KEPT_ALIVE = 100_000;

  /** Session to when this node last moved its expiry. */
  private final Map<String, Long> kept = new java.util.concurrent.ConcurrentHashMap<>();

  @Override
  public Future<Void> created(SessionState.View session, String creator) {
    kept.put(session.id(), System.currentTimeMillis());
    return offer(
        WriteQueue.Kind.KEPT,
        write(
            "session " + session.id(),
            new Statement(
                INSERT_SESSION,
                Tuple.of(
                        session.id(),
                        session.tenant(),
                        session.title(),
                        session.model(),
                        session.system(),
                        session.created())
                    .addValue(creator)
                    .addLong(session.seq())
                    .addLong((long) sessions.effectiveUnusedExpirySeconds()))));
  }

  @Override
  public void touched(String session) {
    long now = System.currentTimeMillis();
    Long last = kept.get(session);
    if (queue == null || last != null && now - last < KEEP_ALIVE_MS) {
      return;
    }
    if (kept.size() >= MAX_KEPT_ALIVE) {
      kept.clear();
    }
    kept.put(session, now);
    Statements write =
        write(
            "expiry of " + session,
            new Statement(
                KEEP_ALIVE,
                Tuple.of(
                    session,
                    (long) sessions.idleExpirySeconds(),
                    (long) sessions.effectiveUnusedExpirySeconds())));
    queue.offerCoalesced("alive " + session, write, waiting -> waiting);
  }

  @Override
  public Future<Void> changed(String session, List<SessionEvent> events) {
    List<Statement> waited = new ArrayList<>();
    java.util.Set<String> joined = new java.util.LinkedHashSet<>();
    long lastSeq = 0;
    for (SessionEvent event : events) {
      lastSeq = Math.max(lastSeq, event.seq());
      switch (event.type()) {
        case "message" -> waited.add(insertMessage(session, event.seq(), event.message()));
        case "done", "error", "cancelled" ->
            waited.add(
                new Statement(
                    END_ANSWER,
                    Tuple.of(
                            session,
                            event.messageId(),
                            endStatus(event.type()),
                            event.finishReason(),
                            event.failure() == null ? null : event.failure().message())
                        .addLong(ENDED)));
        case "presence" -> {
          if ("joined".equals(event.state())) {
            joined.add(event.author());
          }
        }
        default -> {
          // deltas and resets: the checkpoints and the answer's end carry the text
        }
      }
    }
    if (!joined.isEmpty() && queue != null) {
      // Who joined waits for nobody (presence goes on while the database is away), and at most
      // one such write per session waits: later joiners are added to it.
      queue.offerCoalesced(
          "participants " + session,
          participants(session, joined),
          waiting -> {
            java.util.Set<String> all = new java.util.LinkedHashSet<>();
            ((Statements) waiting).statements().forEach(st -> all.add(st.args().getString(1)));
            all.addAll(joined);
            return participants(session, all);
          });
    }
    if (waited.isEmpty()) {
      return Future.succeededFuture();
    }
    waited.add(touch(session, lastSeq));
    return quietly(offer(WriteQueue.Kind.KEPT, new Statements("messages of " + session, waited)));
  }

  private static Statements participants(String session, java.util.Collection<String> authors) {
    List<Statement> statements = new ArrayList<>();
    for (String author : authors) {
      statements.add(new Statement(JOINED, Tuple.of(session, author)));
    }
    return new Statements("participants of " + session, statements);
  }

  private Statement touch(String session, long seq) {
    return new Statement(
        TOUCH_SESSION, Tuple.of(session, seq, (long) sessions.idleExpirySeconds()));
  }

  /** The status an answer's end event leaves its message in, as {@link SessionState} sets it. */
  private static String endStatus(String type) {
    return switch (type) {
      case "done" -> "completed";
      case "error" -> "failed";
      default -> "stopped";
    };
  }

  private static Statement insertMessage(String session, long position, SessionMessage m) {
    return new Statement(
        INSERT_MESSAGE,
        Tuple.of(session, m.id(), position, m.role(), m.author(), m.content(), m.created())
            .addValue(m.generation())
            .addValue(m.status())
            .addValue(m.finishReason())
            .addValue(m.error())
            .addValue(m.replyTo())
            .addLong(m.status() == null || "streaming".equals(m.status()) ? 0 : ENDED));
  }

  /**
   * A write the database refused for itself is logged by the queue and not tried again; the change
   * goes on (it is live), as it would without a history.
   */
  private static Future<Void> quietly(Future<Void> written) {
    return written.recover(
        e ->
            e instanceof HistoryUnavailableException
                ? Future.failedFuture(e)
                : Future.succeededFuture());
  }

  @Override
  public Future<Void> answerEnded(String session, SessionMessage answer) {
    return quietly(
        offer(
            WriteQueue.Kind.KEPT,
            write(
                "answer " + answer.id() + " of " + session,
                new Statement(
                    FINISH_ANSWER,
                    Tuple.of(
                            session,
                            answer.id(),
                            answer.content(),
                            answer.status(),
                            answer.finishReason(),
                            answer.error())
                        .addLong(ENDED)
                        .addLong(System.currentTimeMillis() / 1000)
                        .addString(answer.generation())),
                touch(session, 0))));
  }

  @Override
  public void checkpoint(String session, String message, String text, long version) {
    if (queue == null) {
      return;
    }
    Statements write =
        write(
            "checkpoint of " + message,
            new Statement(CHECKPOINT, Tuple.of(session, message, text, version)));
    queue.offerCoalesced(
        "checkpoint " + message,
        write,
        waiting -> {
          long waitingVersion = ((Statements) waiting).statements().get(0).args().getLong(3);
          return waitingVersion > version ? waiting : write;
        });
  }

  @Override
  public Future<Void> deleted(String session) {
    kept.remove(session);
    return offer(
        WriteQueue.Kind.KEPT,
        write(
            "deletion of " + session,
            new Statement("DELETE FROM tokenbus.sessions WHERE id = $1", Tuple.of(session))));
  }

  @Override
  public Future<SessionState> load(String id) {
    if (pool == null) {
      return Future.failedFuture(new HistoryUnavailableException()); // not started yet
    }
    return pool.preparedQuery(
            "SELECT tenant, title, model, system, created, seq FROM tokenbus.sessions"
                + " WHERE id = $1 AND expires_at > now()")
        .execute(Tuple.of(id))
        .compose(
            rows -> {
              if (rows.size() == 0) {
                return Future.succeededFuture(null);
              }
              Row session = rows.iterator().next();
              return pool.preparedQuery(
                      "SELECT id, position, role, author, content, created, generation, status,"
                          + " finish_reason, error, reply_to FROM tokenbus.messages"
                          + " WHERE session_id = $1 ORDER BY position, id")
                  .execute(Tuple.of(id))
                  .compose(
                      messages -> {
                        List<SessionMessage> transcript = new ArrayList<>();
                        long written = session.getLong("seq");
                        boolean streaming = false;
                        for (Row m : messages) {
                          written = Math.max(written, m.getLong("position"));
                          SessionMessage message =
                              new SessionMessage(
                                  m.getString("id"),
                                  m.getString("role"),
                                  m.getString("author"),
                                  m.getString("content"),
                                  m.getLong("created"),
                                  m.getString("generation"),
                                  m.getString("status"),
                                  m.getString("finish_reason"),
                                  m.getString("error"),
                                  m.getString("reply_to"));
                          streaming |= "streaming".equals(message.status());
                          transcript.add(message);
                        }
                        SessionState state =
                            SessionState.restored(
                                id,
                                session.getString("tenant"),
                                session.getString("title"),
                                session.getString("model"),
                                session.getString("system"),
                                session.getLong("created"),
                                transcript,
                                written);
                        boolean interrupted = streaming;
                        return rebuilt(id, state, interrupted)
                            .map(
                                v -> {
                                  LOG.info(
                                      "session {} rebuilt from the history: {} messages{}",
                                      id,
                                      transcript.size(),
                                      interrupted
                                          ? ", its answer in progress closed as interrupted"
                                          : "");
                                  kept.put(id, System.currentTimeMillis());
                                  return state;
                                });
                      });
            })
        .recover(e -> Future.failedFuture(unavailable(e)));
  }

  /**
   * Commits, before the rebuilt session is served: its new base seq (so a second rebuild numbers
   * past everything this one gives), its expiry moved as the live store's is, and its streaming
   * answer closed as interrupted.
   */
  private Future<Void> rebuilt(String id, SessionState state, boolean interrupted) {
    return pool.withTransaction(
        connection -> {
          Future<?> seq =
              connection
                  .preparedQuery(
                      "UPDATE tokenbus.sessions SET seq = greatest(seq, $2), expires_at ="
                          + " greatest(expires_at, now() + make_interval(secs => 60 + $3))"
                          + " WHERE id = $1")
                  .execute(
                      Tuple.of(
                          id,
                          state.seq(),
                          (long)
                              (state.used()
                                  ? sessions.idleExpirySeconds()
                                  : sessions.effectiveUnusedExpirySeconds())));
          return interrupted
              ? seq.compose(
                      v ->
                          connection
                              .preparedQuery(INTERRUPTED)
                              .execute(Tuple.of(id, SessionState.INTERRUPTED.message(), ENDED)))
                  .mapEmpty()
              : seq.mapEmpty();
        });
  }

  /**
   * The sessions of the history, newest first: every session written and not expired, in memory or
   * not (after a full restart, most are not until first used). An answer still {@code streaming}
   * here counts as answering, though one cut off by a full restart is closed only when its session
   * is first used.
   */
  @Override
  public Future<List<SessionSummary>> list(SessionQuery query) {
    if (pool == null) {
      return Future.failedFuture(new HistoryUnavailableException()); // not started yet
    }
    Tuple args =
        Tuple.tuple()
            .addString(query.tenant())
            .addValue(query.after() == null ? null : query.after().created())
            .addString(query.after() == null ? null : query.after().id())
            .addInteger(query.limit() + 1);
    return pool.preparedQuery(
            "SELECT s.id, s.tenant, s.title, s.model, s.created,"
                + " (SELECT max(m.created) FROM tokenbus.messages m WHERE m.session_id = s.id)"
                + " AS last_message_at,"
                + " (SELECT count(*) FROM tokenbus.messages m WHERE m.session_id = s.id)"
                + " AS message_count,"
                + " EXISTS (SELECT 1 FROM tokenbus.messages m WHERE m.session_id = s.id"
                + " AND m.status = 'streaming') AS answering"
                + " FROM tokenbus.sessions s WHERE ($1::text IS NULL OR s.tenant = $1)"
                + " AND s.expires_at > now()"
                + " AND ($2::bigint IS NULL OR (s.created, s.id) < ($2, $3::text))"
                + " ORDER BY s.created DESC, s.id DESC LIMIT $4")
        .execute(args)
        .map(
            rows -> {
              List<SessionSummary> found = new ArrayList<>();
              for (Row row : rows) {
                found.add(
                    new SessionSummary(
                        row.getString("id"),
                        row.getString("tenant"),
                        row.getString("title"),
                        row.getString("model"),
                        row.getLong("created"),
                        row.getLong("last_message_at"),
                        row.getLong("message_count").intValue(),
                        row.getBoolean("answering")));
              }
              return found;
            })
        .recover(e -> Future.failedFuture(unavailable(e)));
  }

  private static Throwable unavailable(Throwable e) {
    LOG.warn("history: a read failed: {}", Database.rootMessage(e));
    return new HistoryUnavailableException();
  }

  // ---------------------------------------------------------------------------------------------
  // Generations

  private static final String INSERT_GENERATION =
      "INSERT INTO tokenbus.generations (id, tenant, model, created, metadata, session_id,"
          + " message_id, status, text, tool_calls, finish_reason, prompt_tokens,"
          + " completion_tokens, error, recoveries, last_recovery, last_seq, reset_seq, delta_seqs,"
          + " delta_ends, ttft_ms, duration_ms, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
          + " $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, now())"
          + " ON CONFLICT (id) DO NOTHING";

  private static final String ADD_USAGE =
      "INSERT INTO tokenbus.usage (tenant, day, completion_tokens, generations)"
          + " VALUES ($1, $2, $3, $4) ON CONFLICT (tenant, day) DO UPDATE SET"
          + " completion_tokens = usage.completion_tokens + excluded.completion_tokens,"
          + " generations = usage.generations + excluded.generations";

  /**
   * Reads the finished generation's log once (from the node's live store) and writes its record;
   * counts its tokens in its tenant's day. Dropped, and counted, if the queue is full: the record
   * is still kept in memory for {@code generation.retention-seconds}.
   */
  @Override
  public void finished(
      GenerationInfo info, GenerationEvent terminal, long firstTokenMs, long durationMs) {
    if (queue == null) {
      return; // not started: no generation ends before the node serves
    }
    String tenant = info.request().creator() == null ? "" : info.request().creator().tenant();
    long tokens = terminal.usage() == null ? 0 : terminal.usage().completionTokens();
    LocalDate day = LocalDate.now(ZoneOffset.UTC);
    Statements usage =
        write("usage of " + tenant, new Statement(ADD_USAGE, Tuple.of(tenant, day, tokens, 1L)));
    queue.offerCoalesced(
        List.of("usage", tenant, day),
        usage,
        waiting -> {
          Tuple args = ((Statements) waiting).statements().get(0).args();
          return write(
              "usage of " + tenant,
              new Statement(
                  ADD_USAGE, Tuple.of(tenant, day, args.getLong(2) + tokens, args.getLong(3) + 1)));
        });
    live.readAfter(info.id(), 0)
        .onSuccess(
            log -> {
              if (log == null || log.isEmpty()) {
                return;
              }
              queue
                  .offer(
                      WriteQueue.Kind.DROPPABLE,
                      write(
                          "generation " + info.id(),
                          new Statement(
                              INSERT_GENERATION, record(info, log, firstTokenMs, durationMs))))
                  .onFailure(e -> {}); // dropped or refused: logged and counted by the queue
            })
        .onFailure(
            e ->
                LOG.warn(
                    "history: generation {} could not be read to be kept: {}",
                    info.id(),
                    e.toString()));
  }

  private static Tuple record(
      GenerationInfo info, List<GenerationEvent> log, long firstTokenMs, long durationMs) {
    LogFold fold = LogFold.of(log);
    GenerationSnapshot snapshot = fold.snapshot(info);
    GenerationEvent terminal = snapshot.terminal();
    ToolCallAssembler tools = new ToolCallAssembler();
    long resetSeq = 0;
    List<Long> seqs = new ArrayList<>();
    List<Integer> ends = new ArrayList<>();
    int length = 0;
    for (GenerationEvent event : log) {
      tools.add(event);
      if (event.type() == EventType.RESET) {
        resetSeq = event.seq();
        seqs.clear();
        ends.clear();
        length = 0;
      } else if (event.type() == EventType.DELTA && !event.text().isEmpty()) {
        length += event.text().length();
        seqs.add(event.seq());
        ends.add(length);
      }
    }
    JsonArray toolCalls = tools.result();
    SessionLink link = info.request().session();
    Usage usage = terminal == null ? null : terminal.usage();
    Failure failure = terminal == null ? null : terminal.failure();
    GenerationEvent recovery = snapshot.lastRecovery();
    return Tuple.tuple()
        .addString(info.id())
        .addString(info.request().creator() == null ? "" : info.request().creator().tenant())
        .addString(info.model())
        .addLong(info.created())
        .addValue(metadata(info.request().metadata()))
        .addString(link == null ? null : link.session())
        .addString(link == null ? null : link.message())
        .addString(snapshot.status().wireName())
        .addString(snapshot.text())
        .addValue(toolCalls.isEmpty() ? null : toolCalls)
        .addString(terminal == null ? null : terminal.finishReason())
        .addValue(usage == null ? null : usage.promptTokens())
        .addValue(usage == null ? null : usage.completionTokens())
        .addValue(failure == null ? null : failure(failure))
        .addInteger(snapshot.recoveries())
        .addValue(
            recovery == null
                ? null
                : new JsonObject()
                    .put("seq", recovery.seq())
                    .put("kind", recovery.text())
                    .put("failure", failure(recovery.failure()))
                    .put("details", recovery.data()))
        .addLong(snapshot.lastSeq())
        .addLong(resetSeq)
        .addArrayOfLong(seqs.toArray(new Long[0]))
        .addArrayOfInteger(ends.toArray(new Integer[0]))
        .addValue(firstTokenMs < 0 ? null : firstTokenMs)
        .addLong(durationMs);
  }

  private static JsonObject metadata(Map<String, String> metadata) {
    JsonObject json = new JsonObject();
    metadata.forEach(json::put);
    return json;
  }

  private static JsonObject failure(Failure failure) {
    return new JsonObject()
        .put("status", failure.status())
        .put("type", failure.type())
        .put("code", failure.code())
        .put("message", failure.message());
  }

  private static Failure failure(JsonObject json) {
    return json == null
        ? null
        : new Failure(
            json.getInteger("status", 500),
            json.getString("type"),
            json.getString("code"),
            json.getString("message"));
  }

  private static final String ARCHIVED_COLUMNS =
      "id, tenant, model, created, metadata, session_id, message_id, status, text, finish_reason,"
          + " prompt_tokens, completion_tokens, error, recoveries, last_recovery, last_seq,"
          + " reset_seq, delta_seqs, delta_ends";

  /** A finished generation as kept; null when the history has none of that id. */
  public Future<Archived> generation(String id) {
    if (pool == null) {
      return Future.failedFuture(new HistoryUnavailableException()); // not started yet
    }
    return pool.preparedQuery(
            "SELECT " + ARCHIVED_COLUMNS + " FROM tokenbus.generations WHERE id = $1")
        .execute(Tuple.of(id))
        .map(rows -> rows.size() == 0 ? null : archived(rows.iterator().next()))
        .recover(e -> Future.failedFuture(unavailable(e)));
  }

  private static Archived archived(Row row) {
    String id = row.getString("id");
    String model = row.getString("model");
    Map<String, String> metadata = new LinkedHashMap<>();
    JsonObject stored = (JsonObject) row.getValue("metadata");
    if (stored != null) {
      stored.forEach(e -> metadata.put(e.getKey(), String.valueOf(e.getValue())));
    }
    String session = row.getString("session_id");
    GenerationRequest request =
        new GenerationRequest(
            model,
            new JsonObject(),
            null,
            null,
            session == null ? null : new SessionLink(session, row.getString("message_id"), id),
            new Creator(row.getString("tenant"), "history"),
            metadata);
    GenerationInfo info = new GenerationInfo(id, model, row.getLong("created"), request, null, 0);
    long lastSeq = row.getLong("last_seq");
    Long prompt = row.getLong("prompt_tokens");
    Long completion = row.getLong("completion_tokens");
    Usage usage =
        prompt == null && completion == null
            ? null
            : Usage.of(prompt == null ? 0 : prompt, completion == null ? 0 : completion);
    String status = row.getString("status");
    GenerationEvent terminal =
        switch (status) {
          case "completed" -> GenerationEvent.done(lastSeq, row.getString("finish_reason"), usage);
          case "failed" ->
              GenerationEvent.error(
                  lastSeq,
                  failure((JsonObject) row.getValue("error")) == null
                      ? Failure.internal("failed")
                      : failure((JsonObject) row.getValue("error")),
                  usage);
          default -> GenerationEvent.cancelled(lastSeq, usage);
        };
    JsonObject recoveryJson = (JsonObject) row.getValue("last_recovery");
    GenerationEvent lastRecovery =
        recoveryJson == null
            ? null
            : GenerationEvent.recovery(
                recoveryJson.getLong("seq", 1L),
                recoveryJson.getString("kind"),
                failure(recoveryJson.getJsonObject("failure")),
                recoveryJson.getString("details", "{}"));
    Long[] seqs = row.getArrayOfLongs("delta_seqs");
    Integer[] ends = row.getArrayOfIntegers("delta_ends");
    long resetSeq = row.getLong("reset_seq");
    String text = row.getString("text");
    long lastDeltaSeq = seqs.length > 0 ? seqs[seqs.length - 1] : resetSeq;
    GenerationSnapshot snapshot =
        new GenerationSnapshot(
            info,
            text,
            lastSeq,
            lastDeltaSeq,
            terminal,
            row.getInteger("recoveries"),
            lastRecovery);
    return new Archived(snapshot, resetSeq, seqs, ends);
  }

  /**
   * A finished generation as the history keeps it: its final state, and where each delta's text
   * ended, so that a client resuming from any seq is given exactly the rest.
   */
  public record Archived(
      GenerationSnapshot snapshot, long resetSeq, Long[] deltaSeqs, Integer[] deltaEnds) {

    /** Why a replay from before its last reset starts with one. */
    static final Failure RESTARTED =
        new Failure(502, "upstream_error", "answer_restarted", "The answer restarted");

    /**
     * What a client that has every event up to {@code seq} is missing: the text after what it has,
     * as one {@code delta} numbered one before the terminal event (a {@code reset} first, if it was
     * before the answer last restarted), then the terminal event with its own seq.
     */
    public List<GenerationEvent> after(long seq) {
      GenerationEvent terminal = snapshot.terminal();
      long last = terminal.seq();
      if (seq >= last) {
        return List.of();
      }
      List<GenerationEvent> out = new ArrayList<>();
      int from = 0;
      if (seq < resetSeq) {
        out.add(GenerationEvent.reset(resetSeq, RESTARTED));
      } else {
        int at = Arrays.binarySearch(deltaSeqs, seq);
        int index = at >= 0 ? at : -at - 2; // the last delta at or before seq
        from = index < 0 ? 0 : deltaEnds[index];
      }
      String text = snapshot.text();
      if (from < text.length() && seq < last - 1) {
        out.add(GenerationEvent.delta(last - 1, text.substring(from)));
      }
      out.add(terminal);
      return out;
    }
  }

  /** The finished generations of the history {@code query} asks for, at most limit + 1. */
  public Future<List<GenerationSummary>> list(GenerationQuery query) {
    if (pool == null) {
      return Future.failedFuture(new HistoryUnavailableException()); // not started yet
    }
    Tuple args =
        Tuple.tuple()
            .addString(query.tenant())
            .addString(query.status() == null ? null : query.status().wireName())
            .addString(query.model())
            .addValue(metadata(query.metadata()))
            .addValue(query.after() == null ? null : query.after().created())
            .addString(query.after() == null ? null : query.after().id())
            .addInteger(query.limit() + 1);
    return pool.preparedQuery(
            "SELECT id, model, created, tenant, status, metadata FROM tokenbus.generations"
                + " WHERE ($1::text IS NULL OR tenant = $1) AND ($2::text IS NULL OR status = $2)"
                + " AND ($3::text IS NULL OR model = $3) AND metadata @> $4"
                + " AND ($5::bigint IS NULL OR (created, id) < ($5, $6::text))"
                + " ORDER BY created DESC, id DESC LIMIT $7")
        .execute(args)
        .map(
            rows -> {
              List<GenerationSummary> found = new ArrayList<>();
              for (Row row : rows) {
                Map<String, String> metadata = new LinkedHashMap<>();
                ((JsonObject) row.getValue("metadata"))
                    .forEach(e -> metadata.put(e.getKey(), String.valueOf(e.getValue())));
                found.add(
                    new GenerationSummary(
                        row.getString("id"),
                        row.getString("model"),
                        row.getLong("created"),
                        row.getString("tenant"),
                        null,
                        statusOf(row.getString("status")),
                        metadata));
              }
              return found;
            })
        .recover(e -> Future.failedFuture(unavailable(e)));
  }

  private static GenerationStatus statusOf(String wire) {
    for (GenerationStatus status : GenerationStatus.values()) {
      if (status.wireName().equals(wire)) {
        return status;
      }
    }
    return GenerationStatus.FAILED;
  }

  /** The completion tokens {@code tenant} used on {@code day} (UTC), as written so far. */
  public Future<Long> usage(String tenant, LocalDate day) {
    if (pool == null) {
      return Future.failedFuture(new HistoryUnavailableException()); // not started yet
    }
    return pool.preparedQuery(
            "SELECT completion_tokens FROM tokenbus.usage WHERE tenant = $1 AND day = $2")
        .execute(Tuple.of(tenant, day))
        .map(rows -> rows.size() == 0 ? 0L : rows.iterator().next().getLong(0))
        .recover(e -> Future.failedFuture(unavailable(e)));
  }

  // ---------------------------------------------------------------------------------------------

  /**
   * Deletes finished generations past {@code database.retention-days} and sessions past their
   * expiry (their messages with them), at most {@link #SWEEP_ROWS} of each per sweep. Every node
   * sweeps; the deletions are idempotent.
   */
  void sweep() {
    pool.preparedQuery(
            "DELETE FROM tokenbus.generations WHERE id IN (SELECT id FROM tokenbus.generations"
                + " WHERE finished_at < now() - make_interval(days => $1) LIMIT $2)")
        .execute(Tuple.of(config.retentionDays(), SWEEP_ROWS))
        .compose(
            v ->
                pool.preparedQuery(
                        "DELETE FROM tokenbus.sessions WHERE id IN (SELECT id FROM"
                            + " tokenbus.sessions WHERE expires_at < now() LIMIT $1)")
                    .execute(Tuple.of(SWEEP_ROWS)))
        .compose(
            v ->
                pool.preparedQuery(
                        "DELETE FROM tokenbus.usage WHERE day < current_date - $1::integer")
                    .execute(Tuple.of(Math.max(2, config.retentionDays()))))
        .onFailure(e -> LOG.debug("history: sweep failed: {}", Database.rootMessage(e)));
  }
}
