package io.tokenbus.session;

import io.tokenbus.bus.EventType;
import io.tokenbus.bus.Failure;
import io.tokenbus.bus.GenerationEvent;
import java.io.Serializable;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A chat session as stored: its settings, transcript, event log, who is here, and the answer in
 * progress with the user messages waiting for theirs. Changed only by {@link SessionOps}, each run
 * atomically by the store (under a lock, or in a Hazelcast entry processor), so every node sees one
 * order. The ops are deterministic (ids and times come from the caller), as a replicated store
 * replays them on its backups.
 *
 * <p>The ordering policy: one answer at a time. A message posted while the assistant answers is
 * queued, and answered, in order, when the answer before it ends; each answer sees the transcript
 * up to its own question.
 */
public final class SessionState implements Serializable {

  private final String id;

  /** The tenant that created it: only that tenant (and the admin) may reach it. */
  final String tenant;

  final String title;
  final String model;
  final String system;
  final long created;

  /**
   * Milliseconds; set by the in-memory store on every change (Hazelcast keeps its own time to
   * live).
   */
  long lastActive;

  final ArrayList<SessionMessage> messages = new ArrayList<>();
  final ArrayList<SessionEvent> log = new ArrayList<>();

  /**
   * Author → open connections (SSE or WebSocket, on any node). 0 means their last connection closed
   * and they are still counted as here until the reconnect grace ends ({@link #leftIfGone}).
   */
  final LinkedHashMap<String, Integer> participants = new LinkedHashMap<>();

  final ArrayDeque<String> queue = new ArrayDeque<>();
  static final long TYPING_INTERVAL_MS = 1500;
  final LinkedHashMap<String, Long> lastTyping = new LinkedHashMap<>();

  /** The assistant message being answered, or null. */
  String answering;

  /** The last generation seq copied into {@link #answering}. */
  long relayed;

  long chars;

  /** What its log holds, as counted in {@link #bytes()}: kept as events are added. */
  long logBytes;

  /**
   * The seq before the first event of {@link #log}: 0, unless the session was rebuilt from the
   * durable history ({@link #restored}), whose log starts afresh past every seq given before.
   */
  long base;

  /** Set by the in-memory store once it has dropped the session, so it is counted out once. */
  transient boolean dropped;

  SessionState(String id, String tenant, String title, String model, String system, long created) {
    this.id = id;
    this.tenant = tenant;
    this.title = title;
    this.model = model;
    this.system = system;
    this.created = created;
    this.lastActive = created * 1000;
  }

  public String id() {
    return id;
  }

  public String tenant() {
    return tenant;
  }

  long lastSeq() {
    return base + log.size();
  }

  /** The seq of its last event. */
  public long seq() {
    return lastSeq();
  }

  /**
   * How far past the last seq it wrote a rebuilt session numbers its events (see {@link
   * #restored}).
   */
  public static final long RESTORED_SEQ_GAP = 1_000_000_000L;

  /**
   * A session rebuilt from the durable history after it was lost from memory (every node stopped):
   * its settings and {@code messages} as last written. An answer that was streaming is closed as
   * {@code interrupted} with the text it had, by an {@code error} event; nobody is present and
   * nothing is queued. Its events are numbered from {@code writtenSeq} + {@link #RESTORED_SEQ_GAP}
   * on, past any seq a client kept from before (events after the last write were not kept), so a
   * client that resumes from its {@code Last-Event-ID} is given everything since, not nothing.
   */
  public static SessionState restored(
      String id,
      String tenant,
      String title,
      String model,
      String system,
      long created,
      List<SessionMessage> messages,
      long writtenSeq) {
    SessionState state = new SessionState(id, tenant, title, model, system, created);
    state.base = writtenSeq + RESTORED_SEQ_GAP;
    state.lastActive = System.currentTimeMillis();
    for (SessionMessage message : messages) {
      state.chars += message.content().length();
      if ("streaming".equals(message.status())) {
        SessionMessage closed = message.ended("interrupted", null, INTERRUPTED.message());
        state.messages.add(closed);
        state.add(
            new ArrayList<>(),
            SessionEvent.answer(state.nextSeq(), "error", closed, null, null, INTERRUPTED));
      } else {
        state.messages.add(message);
      }
    }
    return state;
  }

  /** Why a rebuilt session's streaming answer ended. */
  public static final Failure INTERRUPTED =
      new Failure(
          503,
          "api_error",
          "answer_interrupted",
          "The answer was interrupted: every node stopped while it was written; its text is what"
              + " was saved before");

  /** What a session is counted as, besides what it holds: ids, settings, the map entry. */
  static final long BASE_BYTES = 512;

  /**
   * What the session holds in memory, roughly, counted as the generation store counts (two bytes a
   * character, about a hundred an event or message): its settings, transcript, event log, who is
   * here and the queue. Kept as it changes, so asking costs nothing; what {@code
   * sessions.max-bytes} bounds.
   */
  public long bytes() {
    return BASE_BYTES
        + 2L * (title.length() + model.length() + system.length())
        + 96L * messages.size()
        + 2L * chars
        + logBytes
        + 64L * (participants.size() + queue.size());
  }

  /**
   * Whether anyone has posted to it: a session nobody used expires after {@code
   * sessions.unused-expiry-seconds}, a used one after {@code sessions.idle-expiry-seconds}.
   */
  public boolean used() {
    return !messages.isEmpty();
  }

  private SessionEvent add(List<SessionEvent> out, SessionEvent event) {
    log.add(event);
    logBytes += event.bytes();
    out.add(event);
    return event;
  }

  private long nextSeq() {
    return base + log.size() + 1L;
  }

  private int indexOf(String messageId) {
    for (int i = messages.size() - 1; i >= 0; i--) {
      if (messages.get(i).id().equals(messageId)) {
        return i;
      }
    }
    return -1;
  }

  /** Adds a user message; starts its answer if none is in progress. */
  NextAnswer post(SessionMessage user, NewAnswer ids, List<SessionEvent> out) {
    if (indexOf(user.id()) >= 0) {
      // The same post again (a store retrying an op that had landed): what it gave the first time.
      int answer = indexOf(ids.messageId());
      return answer >= 0 ? retold(answer) : null;
    }
    messages.add(user);
    chars += user.content().length();
    add(out, SessionEvent.message(nextSeq(), user));
    if (answering != null) {
      queue.add(user.id());
      return null;
    }
    return startAnswer(user.id(), ids, out);
  }

  private NextAnswer startAnswer(String question, NewAnswer ids, List<SessionEvent> out) {
    SessionMessage answer =
        SessionMessage.assistant(ids.messageId(), ids.generation(), ids.now(), question);
    List<SessionMessage> history = historyFor(question);
    messages.add(answer);
    answering = answer.id();
    relayed = 0;
    add(out, SessionEvent.message(nextSeq(), answer));
    return new NextAnswer(answer.id(), ids.generation(), tenant, model, system, history);
  }

  /**
   * What a copy did: the next answer to start (or null); or, with nothing copied, that the events
   * do not follow what was copied ({@code gapAfter}, the last seq it has, ≥ 0), or that the
   * generation no longer answers anything here ({@code stale}: stopped, or never registered).
   */
  public record Relayed(NextAnswer next, long gapAfter, boolean stale) implements Serializable {}

  /**
   * The conversation as the model must see it: each question followed by its own answer, up to
   * {@code question} (a question asked while an earlier one was answered sits before that answer in
   * the transcript).
   */
  private List<SessionMessage> historyFor(String question) {
    Map<String, SessionMessage> replies = new HashMap<>();
    for (SessionMessage m : messages) {
      if (m.replyTo() != null) {
        replies.put(m.replyTo(), m);
      }
    }
    List<SessionMessage> history = new ArrayList<>();
    for (SessionMessage m : messages) {
      if (!m.role().equals("user")) {
        continue;
      }
      history.add(m);
      if (m.id().equals(question)) {
        break;
      }
      SessionMessage reply = replies.get(m.id());
      if (reply != null) {
        history.add(reply);
      }
    }
    return history;
  }

  /**
   * Copies a generation's committed events into its answer (each once, none skipped), and starts
   * the next answer if one waits.
   */
  Relayed relay(
      String generation, List<GenerationEvent> events, NewAnswer next, List<SessionEvent> out) {
    int at = answering == null ? -1 : indexOf(answering);
    if (at < 0 || !generation.equals(messages.get(at).generation())) {
      // A copy retried after it had ended this answer and started the next gets the same next
      // answer.
      int started =
          next == null || answering == null || !answering.equals(next.messageId())
              ? -1
              : indexOf(answering);
      return started >= 0 ? new Relayed(retold(started), -1, false) : new Relayed(null, -1, true);
    }
    // A batch's text is added to the answer once: per delta, a long answer would be copied once per
    // token.
    StringBuilder text = new StringBuilder();
    for (GenerationEvent event : events) {
      if (event.seq() <= relayed) {
        continue;
      }
      if (event.seq() > relayed + 1) {
        append(at, text);
        return new Relayed(
            null, relayed, false); // events missing in between: the caller reads them from the log
      }
      relayed = event.seq();
      SessionMessage answer = messages.get(at);
      if (event.type() != EventType.DELTA) {
        append(at, text);
        answer = messages.get(at);
      }
      switch (event.type()) {
        case DELTA -> {
          if (!event.text().isEmpty()) {
            chars += event.text().length();
            text.append(event.text());
            add(out, SessionEvent.answer(nextSeq(), "delta", answer, event.text(), null, null));
          }
        }
        case RESET -> {
          chars -= answer.content().length();
          messages.set(at, answer.withContent(""));
          add(out, SessionEvent.answer(nextSeq(), "reset", answer, null, null, event.failure()));
        }
        case DONE -> {
          return new Relayed(
              end(at, "completed", "done", event.finishReason(), null, next, out), -1, false);
        }
        case ERROR -> {
          return new Relayed(
              end(at, "failed", "error", null, event.failure(), next, out), -1, false);
        }
        case CANCELLED -> {
          return new Relayed(end(at, "stopped", "cancelled", null, null, next, out), -1, false);
        }
        default -> {
          // tool calls and upstream recoveries are not part of a chat transcript
        }
      }
    }
    append(at, text);
    return new Relayed(null, -1, false);
  }

  /** Adds {@code text} to the message at {@code at}, and empties it. */
  private void append(int at, StringBuilder text) {
    if (!text.isEmpty()) {
      SessionMessage message = messages.get(at);
      messages.set(at, message.withContent(message.content() + text));
      text.setLength(0);
    }
  }

  /** The start of the answer at {@code index} again (its history as it was), for a retried op. */
  private NextAnswer retold(int index) {
    SessionMessage answer = messages.get(index);
    return new NextAnswer(
        answer.id(), answer.generation(), tenant, model, system, historyFor(answer.replyTo()));
  }

  /**
   * Ends the answer in progress (if it is {@code messageId}) and starts the next one if a message
   * waits.
   */
  NextAnswer endAnswer(
      String messageId,
      String status,
      String type,
      Failure failure,
      NewAnswer next,
      List<SessionEvent> out) {
    int at = answering == null || !answering.equals(messageId) ? -1 : indexOf(messageId);
    return at < 0 ? null : end(at, status, type, null, failure, next, out);
  }

  private NextAnswer end(
      int at,
      String status,
      String type,
      String finishReason,
      Failure failure,
      NewAnswer next,
      List<SessionEvent> out) {
    SessionMessage answer =
        messages.get(at).ended(status, finishReason, failure == null ? null : failure.message());
    messages.set(at, answer);
    answering = null;
    add(out, SessionEvent.answer(nextSeq(), type, answer, null, finishReason, failure));
    if (next == null || queue.isEmpty()) {
      return null; // the queue stays for whoever can start its next answer
    }
    return startAnswer(queue.poll(), next, out);
  }

  /** The answer to stop: it and every queued question are given up. */
  String stop() {
    queue.clear();
    return answering;
  }

  /**
   * A connection of {@code author} opened (+1) or closed (−1); joined and left are said once per
   * author.
   */
  void presence(String author, int change, List<SessionEvent> out) {
    boolean known = participants.containsKey(author);
    int after = Math.max(0, participants.getOrDefault(author, 0) + change);
    if (change < 0 && !known) {
      return;
    }
    participants.put(author, after);
    if (!known && after > 0) {
      add(out, SessionEvent.presence(nextSeq(), author, "joined"));
    }
  }

  /**
   * Says {@code author} left, if they still have no connection (at the end of the reconnect grace).
   */
  void leftIfGone(String author, List<SessionEvent> out) {
    Integer connections = participants.get(author);
    if (connections != null && connections == 0) {
      participants.remove(author);
      lastTyping.remove(author);
      add(out, SessionEvent.presence(nextSeq(), author, "left"));
    }
  }

  /**
   * True when {@code author}'s typing is worth saying: they are here, and did not say so in the
   * last {@link #TYPING_INTERVAL_MS}. Typing is not kept in the log (it is published as a passing
   * event without a seq), so it costs nothing to replay and cannot grow the session.
   */
  boolean typing(String author, long nowMillis) {
    Long last = lastTyping.get(author);
    if (!participants.containsKey(author)
        || (last != null && nowMillis - last < TYPING_INTERVAL_MS)) {
      return false;
    }
    lastTyping.put(author, nowMillis);
    return true;
  }

  List<String> present() {
    return List.copyOf(participants.keySet());
  }

  /**
   * Ids and time for an answer the caller may have to start, made outside the op (ops must be
   * deterministic).
   */
  record NewAnswer(String messageId, String generation, long now) implements Serializable {}

  /** An answer to start: its message and generation ids, and the conversation it answers. */
  public record NextAnswer(
      String messageId,
      String generation,
      String tenant,
      String model,
      String system,
      List<SessionMessage> history)
      implements Serializable {}

  /** The session as clients see it, at one seq. */
  public record View(
      String id,
      String tenant,
      String title,
      String model,
      String system,
      long created,
      List<SessionMessage> messages,
      List<String> participants,
      String answering,
      int queued,
      long seq)
      implements Serializable {}

  /**
   * What a listing shows of it ({@link SessionSummary}): read in place, copying nothing of the
   * transcript. Called under the session's lock in memory; on a Hazelcast member it reads the
   * stored object as the generation listing reads its entries, possibly while an op changes it, so
   * it reads the transcript's size once and tolerates a last slot not yet visible.
   */
  SessionSummary summary() {
    int count = messages.size();
    SessionMessage last = count == 0 ? null : messages.get(count - 1);
    return new SessionSummary(
        id,
        tenant,
        title,
        model,
        created,
        last == null ? null : last.created(),
        count,
        answering != null);
  }

  View view() {
    return new View(
        id,
        tenant,
        title,
        model,
        system,
        created,
        List.copyOf(messages),
        present(),
        answering,
        queue.size(),
        lastSeq());
  }
}
