package io.tokenbus.session;

import io.tokenbus.bus.Addresses;
import io.tokenbus.bus.ControlCommand;
import io.tokenbus.bus.Creator;
import io.tokenbus.bus.Failure;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.bus.SessionLink;
import io.tokenbus.config.TokenbusConfig;
import io.tokenbus.generation.CommitListener;
import io.tokenbus.generation.GenerationIds;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.GenerationStore;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's side of the chat sessions: runs ops on the store and publishes the events they cause on
 * the session's address; starts each answer as a generation tied to the session; and, as the
 * generations' {@link CommitListener}, copies what an answer's owner commits into the session (so a
 * node that takes a generation over carries the session's answer on too).
 */
public final class Sessions implements CommitListener {

  private static final Logger LOG = LoggerFactory.getLogger(Sessions.class);
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final char[] ALPHABET =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".toCharArray();

  /** How long a deletion waits for its answer's owner to confirm the cancel. */
  private static final DeliveryOptions CONTROL = new DeliveryOptions().setSendTimeout(5_000);

  private final Vertx vertx;
  private final SessionStore store;
  private final GenerationStore generations;
  private final TokenbusConfig.Sessions config;
  private Function<GenerationRequest, Future<?>> starter;
  private SessionHistory history = SessionHistory.NONE;

  /**
   * Answers in progress copied into their session since their last checkpoint: message id to its
   * link. Written to the history every {@code database.checkpoint-ms}.
   */
  private final Map<String, SessionLink> unsaved = new ConcurrentHashMap<>();

  /**
   * Per generation, the relay of its last batch: batches go to the store one after another, in
   * order.
   */
  private final Map<String, Future<?>> relays = new ConcurrentHashMap<>();

  public Sessions(
      Vertx vertx,
      SessionStore store,
      GenerationStore generations,
      TokenbusConfig.Sessions config) {
    this.vertx = vertx;
    this.store = store;
    this.generations = generations;
    this.config = config;
  }

  /** How answers are started: the HTTP side's placement of a generation request on a worker. */
  public void starter(Function<GenerationRequest, Future<?>> starter) {
    this.starter = starter;
  }

  public TokenbusConfig.Sessions config() {
    return config;
  }

  /** Where sessions are kept durably ({@link SessionHistory#NONE} unless a database is set). */
  public void history(SessionHistory history) {
    this.history = history;
  }

  /**
   * Writes the text of every answer in progress that changed, every {@code periodMs}: one read of
   * its generation's folded text and one coalesced write each, never one per token. Called once the
   * node's verticles are deployed (a timer made earlier would shift their event loops).
   */
  public void startCheckpoints(long periodMs) {
    vertx.setPeriodic(periodMs, t -> checkpoint());
  }

  private void checkpoint() {
    for (SessionLink link : List.copyOf(unsaved.values())) {
      if (!unsaved.remove(link.message(), link)) {
        continue;
      }
      generations
          .snapshot(link.generation())
          .onSuccess(
              snapshot -> {
                if (snapshot != null && snapshot.terminal() == null) {
                  history.checkpoint(
                      link.session(), link.message(), snapshot.text(), snapshot.lastSeq());
                }
              })
          .onFailure(e -> unsaved.putIfAbsent(link.message(), link)); // next time
    }
  }

  static String newId(String prefix) {
    char[] id = new char[20];
    for (int i = 0; i < id.length; i++) {
      id[i] = ALPHABET[RANDOM.nextInt(ALPHABET.length)];
    }
    return prefix + new String(id);
  }

  private static SessionState.NewAnswer newAnswer() {
    return new SessionState.NewAnswer(
        newId("msg_"), GenerationIds.next(), System.currentTimeMillis() / 1000);
  }

  /** Starts a session that belongs to {@code tenant}. */
  /**
   * Creates a session of {@code tenant}; fails with {@link TenantSessionLimitException} when the
   * tenant has {@code maxOfTenant} (0: no limit of its own), or as the store refuses.
   */
  public Future<SessionState.View> create(
      String tenant, String title, String model, String system, int maxOfTenant) {
    return create(tenant, null, title, model, system, maxOfTenant);
  }

  /**
   * The same, naming the user who creates it ({@code creator}, a JWT's subject, or null). With a
   * durable history, completes once the session is committed there; fails with {@link
   * HistoryUnavailableException} before anything is created when the history cannot take it.
   */
  public Future<SessionState.View> create(
      String tenant, String creator, String title, String model, String system, int maxOfTenant) {
    if (history.full()) {
      return Future.failedFuture(new HistoryUnavailableException());
    }
    SessionState session =
        new SessionState(
            newId("sess_"), tenant, title, model, system, System.currentTimeMillis() / 1000);
    Future<Void> room =
        maxOfTenant <= 0
            ? Future.succeededFuture()
            : store
                .count(tenant)
                .compose(
                    count ->
                        count >= maxOfTenant
                            ? Future.failedFuture(
                                new TenantSessionLimitException(tenant, maxOfTenant))
                            : Future.succeededFuture());
    return room.compose(v -> store.create(session))
        .compose(
            v -> {
              SessionState.View view = session.view();
              return history.created(view, creator).map(view);
            });
  }

  /** What {@code tenant}'s sessions hold together ({@link SessionStore#bytesOf}). */
  public long bytesOf(String tenant) {
    return store.bytesOf(tenant);
  }

  /** The tenant session {@code id} belongs to; null for an unknown session. */
  public Future<String> tenant(String id) {
    return store.apply(id, new SessionOps.Tenant()).map(r -> r == null ? null : r.value());
  }

  /** What a listing shows of session {@code id}; null for an unknown session. */
  public Future<SessionSummary> summary(String id) {
    return store.apply(id, new SessionOps.Summary()).map(r -> r == null ? null : r.value());
  }

  /** The sessions {@code query} asks for, at most {@code limit + 1}, newest first. */
  public Future<List<SessionSummary>> list(SessionQuery query) {
    Future<List<SessionSummary>> kept = history.list(query);
    return kept != null ? kept : store.list(query);
  }

  public Future<SessionState.View> view(String id) {
    return store.apply(id, new SessionOps.View()).map(r -> r == null ? null : r.value());
  }

  public Future<List<SessionEvent>> readAfter(String id, long seq) {
    return store.apply(id, new SessionOps.ReadAfter(seq)).map(r -> r == null ? null : r.value());
  }

  /**
   * Runs a changing op and publishes the events it caused; completes with null for an unknown
   * session.
   */
  <T> Future<SessionResult<T>> change(String id, SessionOp<T> op) {
    return changeDurably(id, op).map(Changed::result);
  }

  /**
   * What an op gave, and when the history has what it changed: a new message, an answer's end
   * (completed at once without a history, or with nothing to keep).
   */
  record Changed<T>(SessionResult<T> result, Future<Void> durable) {}

  /**
   * Runs a changing op, hands what it changed to the history, and publishes the events it caused at
   * once: streaming never waits for the database. Whoever must not answer before the change is kept
   * (a post) waits for {@link Changed#durable}; an answer's end is kept before its op runs ({@link
   * #saveEnd}).
   */
  <T> Future<Changed<T>> changeDurably(String id, SessionOp<T> op) {
    return store
        .apply(id, op)
        .map(
            result -> {
              if (result == null) {
                return new Changed<>(null, Future.succeededFuture());
              }
              history.touched(id);
              if (result.events().isEmpty()) {
                return new Changed<>(result, Future.succeededFuture());
              }
              Future<Void> durable = history.changed(id, result.events());
              vertx
                  .eventBus()
                  .publish(Addresses.sessionEvents(id), new SessionBatch(id, result.events()));
              return new Changed<>(result, durable);
            });
  }

  /**
   * What posting gave: the user's message, and the answer started for it (null when queued), or why
   * it was refused.
   */
  public record Post(
      SessionMessage message, String answer, String generation, boolean queued, Failure refused) {}

  /**
   * Posts a user message: its answer starts at once, or is queued behind the one in progress. Fails
   * with {@link SessionStorageFullException} when the sessions hold {@code sessions.max-bytes}.
   */
  public Future<Post> post(String id, String author, String content) {
    if (store.full()) {
      return Future.failedFuture(new SessionStorageFullException(config.maxBytes()));
    }
    if (history.full()) {
      return Future.failedFuture(new HistoryUnavailableException());
    }
    SessionMessage user =
        SessionMessage.user(newId("msg_"), author, content, System.currentTimeMillis() / 1000);
    return changeDurably(
            id,
            new SessionOps.Post(user, newAnswer(), config.maxTranscriptChars(), config.maxQueued()))
        .compose(
            changed -> {
              SessionResult<SessionOps.Posted> result = changed.result();
              if (result == null) {
                return Future.succeededFuture(null);
              }
              SessionOps.Posted posted = result.value();
              if (posted.next() != null) {
                startAnswer(id, posted.next()); // not held up by the database
              }
              Post post =
                  new Post(
                      user,
                      posted.next() == null ? null : posted.next().messageId(),
                      posted.next() == null ? null : posted.next().generation(),
                      posted.queued(),
                      posted.refused());
              // Acknowledged once kept.
              return changed.durable().map(post);
            });
  }

  /** Stops the answer in progress, for everyone, and gives up the queued questions. */
  public Future<SessionMessage> stop(String id) {
    return change(id, new SessionOps.Stop())
        .compose(
            result -> {
              if (result == null || result.value() == null) {
                return Future.succeededFuture(result == null ? null : result.value());
              }
              SessionMessage answer = result.value();
              return vertx
                  .eventBus()
                  .request(Addresses.control(answer.generation()), ControlCommand.CANCEL)
                  .recover(
                      e ->
                          e instanceof ReplyException r
                                  && r.failureType() == ReplyFailure.NO_HANDLERS
                              // Nobody runs it (it has not started, or just ended): end the answer
                              // here. Should the generation
                              // start after all, its first copy finds it stale and cancels it.
                              ? change(
                                      id,
                                      new SessionOps.EndAnswer(
                                          answer.id(), "stopped", "cancelled", null, newAnswer()))
                                  .map(
                                      ended -> {
                                        if (ended != null && ended.value() != null) {
                                          startAnswer(
                                              id,
                                              ended.value()); // a question posted after the stop
                                        }
                                        return null;
                                      })
                              : Future.failedFuture(e))
                  .map(answer);
            });
  }

  /**
   * Deletes session {@code id} for everyone: gives up its queue (so no answer starts meanwhile),
   * removes it from the store, tells its viewers (a passing {@code deleted} event, which ends their
   * streams) and cancels the answer in progress, waiting up to 5 s for that. Copies of the answer
   * that still come find no session and change nothing. Completes with false for an unknown
   * session.
   */
  public Future<Boolean> delete(String id) {
    if (history.full()) {
      return Future.failedFuture(new HistoryUnavailableException());
    }
    return store
        .apply(id, new SessionOps.Stop())
        .compose(
            stopped ->
                stopped == null
                    ? Future.succeededFuture(false)
                    // Out of the history first: once out of memory, nothing can rebuild it.
                    : history
                        .deleted(id)
                        .compose(v -> store.remove(id))
                        .compose(
                            removed -> {
                              if (!removed) {
                                return Future.succeededFuture(false);
                              }
                              vertx
                                  .eventBus()
                                  .publish(
                                      Addresses.sessionEvents(id),
                                      new SessionBatch(id, List.of(SessionEvent.deleted())));
                              SessionMessage answer = stopped.value();
                              if (answer == null) {
                                return Future.succeededFuture(true);
                              }
                              LOG.info(
                                  "Session {} deleted: cancelling its answer {}",
                                  id,
                                  answer.generation());
                              // NO_HANDLERS: it has ended, or not started yet, and then finds no
                              // session to answer.
                              return vertx
                                  .eventBus()
                                  .request(
                                      Addresses.control(answer.generation()),
                                      ControlCommand.CANCEL,
                                      CONTROL)
                                  .transform(ar -> Future.succeededFuture(true));
                            }));
  }

  public Future<Failure> presence(String id, String author, int change) {
    return change(id, new SessionOps.Presence(author, change, config.maxParticipants()))
        .map(r -> r == null ? null : r.value());
  }

  /**
   * A participant's last connection closed: unless they come back within the grace period, they
   * left.
   */
  public void leave(String id, String author) {
    presence(id, author, -1)
        .onSuccess(
            v -> {
              if (config.presenceGraceSeconds() == 0) {
                change(id, new SessionOps.LeftIfGone(author)); // Vert.x refuses a timer of 0 ms
              } else {
                vertx.setTimer(
                    config.presenceGraceSeconds() * 1000L,
                    t -> change(id, new SessionOps.LeftIfGone(author)));
              }
            });
  }

  /**
   * Says {@code author} is typing, if they are here: a passing event (seq 0), not kept in the
   * session's log. Completes with false when there is no such session.
   */
  public Future<Boolean> typing(String id, String author) {
    return store
        .apply(id, new SessionOps.Typing(author, System.currentTimeMillis()))
        .map(
            r -> {
              if (r != null) {
                history.touched(id);
              }
              if (r != null && Boolean.TRUE.equals(r.value())) {
                vertx
                    .eventBus()
                    .publish(
                        Addresses.sessionEvents(id),
                        new SessionBatch(id, List.of(SessionEvent.presence(0, author, "typing"))));
              }
              return r != null;
            });
  }

  private void startAnswer(String session, SessionState.NextAnswer next) {
    JsonArray messages = new JsonArray();
    if (next.system() != null && !next.system().isBlank()) {
      messages.add(new JsonObject().put("role", "system").put("content", next.system()));
    }
    for (SessionMessage m : next.history()) {
      if (m.role().equals("user")) {
        messages.add(
            new JsonObject()
                .put("role", "user")
                .put("name", nameOf(m.author()))
                .put("content", m.content()));
      } else if (!m.content().isEmpty()) {
        messages.add(new JsonObject().put("role", "assistant").put("content", m.content()));
      }
    }
    JsonObject body =
        new JsonObject().put("model", next.model()).put("stream", true).put("messages", messages);
    GenerationRequest request =
        new GenerationRequest(
            next.model(),
            body,
            null,
            null,
            new SessionLink(session, next.messageId(), next.generation()),
            new Creator(next.tenant(), "session " + session));
    starter
        .apply(request)
        .onFailure(
            e -> {
              Failure failure =
                  e instanceof FailureCarrier carrier
                      ? carrier.failure()
                      : Failure.internal("The answer could not be started: " + e.getMessage());
              LOG.info(
                  "Session {}: answer {} could not start: {}",
                  session,
                  next.messageId(),
                  failure.message());
              change(
                      session,
                      new SessionOps.EndAnswer(
                          next.messageId(), "failed", "error", failure, newAnswer()))
                  .onSuccess(
                      r -> {
                        if (r != null && r.value() != null) {
                          startAnswer(session, r.value());
                        }
                      });
            });
  }

  /** OpenAI's {@code name}: letters, digits, '_' and '-', at most 64. */
  private static String nameOf(String author) {
    String name = author.replaceAll("[^A-Za-z0-9_-]", "_");
    return name.length() > 64 ? name.substring(0, 64) : name;
  }

  /** Something that says which {@link Failure} it stands for (the HTTP side's exceptions). */
  public interface FailureCarrier {
    Failure failure();
  }

  @Override
  public void committed(GenerationInfo info, List<GenerationEvent> events) {
    relay(info.request().session(), new ArrayList<>(events));
  }

  /**
   * Copies what the former owner committed but never copied, before anything this node commits (its
   * batches queue behind this catch-up).
   */
  @Override
  public void resumed(GenerationInfo info) {
    SessionLink link = info.request().session();
    relays.put(link.generation(), catchUp(link, 0));
  }

  /** Copies, from the generation's log, everything after what the session has of it. */
  private Future<Void> catchUp(SessionLink link, int attempt) {
    return store
        .apply(link.session(), new SessionOps.Relayed(link.generation()))
        .compose(
            r ->
                r == null || r.value() < 0
                    ? Future.succeededFuture(List.<GenerationEvent>of())
                    : generations.readAfter(link.generation(), r.value()))
        .compose(
            missed ->
                missed == null || missed.isEmpty()
                    ? Future.<Void>succeededFuture()
                    : write(link, new ArrayList<>(missed), newAnswer(), 0))
        .recover(e -> later(link, attempt, e));
  }

  /**
   * The store or the log keeps failing (a partition moving, say): try again from the log a little
   * later, for about a minute, so a missed end of an answer still reaches the session.
   */
  private Future<Void> later(SessionLink link, int attempt, Throwable cause) {
    if (attempt >= 12) {
      LOG.error(
          "Session {}: answer {} could not be copied from generation {}; it stays as it is",
          link.session(),
          link.message(),
          link.generation(),
          cause);
      return Future.succeededFuture();
    }
    return vertx.timer(5000).compose(t -> catchUp(link, attempt + 1));
  }

  /**
   * Copies events into the session, after those before them, retrying a failed write (the copy
   * skips what it already has).
   */
  private void relay(SessionLink link, ArrayList<GenerationEvent> events) {
    Future<?> previous = relays.getOrDefault(link.generation(), Future.succeededFuture());
    Future<?> next = previous.transform(v -> write(link, events, newAnswer(), 0));
    relays.put(link.generation(), next);
    if (events.get(events.size() - 1).terminal()) {
      next.onComplete(v -> relays.remove(link.generation(), next));
    }
  }

  /**
   * Commits an answer's end to the history before the session hears of it: its final text (the
   * generation's log folded, the same text the session's copy makes) and status.
   */
  private Future<Void> saveEnd(SessionLink link, GenerationEvent terminal) {
    unsaved.remove(link.message());
    return generations
        .snapshot(link.generation())
        .compose(
            snapshot -> {
              if (snapshot == null) {
                return Future.succeededFuture();
              }
              String status =
                  switch (terminal.type()) {
                    case DONE -> "completed";
                    case ERROR -> "failed";
                    default -> "stopped";
                  };
              return history.answerEnded(
                  link.session(),
                  new SessionMessage(
                      link.message(),
                      "assistant",
                      "assistant",
                      snapshot.text(),
                      0,
                      link.generation(),
                      status,
                      terminal.finishReason(),
                      terminal.failure() == null ? null : terminal.failure().message(),
                      null));
            });
  }

  /**
   * One copy, retried with the same {@code next}: if an attempt ended the answer and started the
   * queued one but its reply was lost, the retry is told that same next answer and starts it.
   */
  private Future<Void> write(
      SessionLink link,
      ArrayList<GenerationEvent> events,
      SessionState.NewAnswer next,
      int attempt) {
    GenerationEvent last = events.get(events.size() - 1);
    Future<Void> saved =
        last.terminal() && history.enabled() ? saveEnd(link, last) : Future.succeededFuture();
    return saved
        .compose(v -> change(link.session(), new SessionOps.Relay(link.generation(), events, next)))
        .<Void>compose(
            result -> {
              if (result == null) {
                return Future.succeededFuture(); // the session is gone
              }
              SessionState.Relayed relayed = result.value();
              if (relayed.next() != null) {
                startAnswer(link.session(), relayed.next());
              }
              if (!last.terminal() && history.enabled()) {
                unsaved.put(link.message(), link);
              }
              if (relayed.stale()) {
                // Nothing here waits for it (the answer was stopped before it started): stop it
                // too.
                vertx.eventBus().send(Addresses.control(link.generation()), ControlCommand.CANCEL);
              }
              if (relayed.gapAfter() >= 0) {
                return generations
                    .readAfter(link.generation(), relayed.gapAfter())
                    .compose(
                        missing ->
                            missing == null || missing.isEmpty()
                                ? Future.succeededFuture()
                                : write(link, new ArrayList<>(missing), next, attempt + 1));
              }
              return Future.succeededFuture();
            })
        .recover(
            e ->
                attempt >= 8
                    ? later(link, 0, e)
                    : vertx
                        .timer(Math.min(1000, 50L << attempt))
                        .compose(t -> write(link, events, next, attempt + 1)));
  }
}
