package io.tokenbus.session;

import io.tokenbus.bus.Failure;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.bus.Usage;
import java.util.ArrayList;
import java.util.List;

/**
 * One fully populated instance of each session type the cluster stores or sends, for the codecs'
 * round-trip test (the ops are the package's own).
 */
public final class SessionSamples {

  private SessionSamples() {}

  static final Failure FAILURE = new Failure(502, "upstream_error", "upstream_error", "boom");

  /**
   * A session with a transcript, a long log, a queue, participants and typing, and an answer in
   * progress.
   */
  public static SessionState state() {
    SessionState state = new SessionState("sess_1", "acme", "Title", "mock", "Be brief.", 1700);
    List<SessionEvent> out = new ArrayList<>();
    state.presence("ann", 1, out);
    state.presence("bob", 1, out);
    state.presence("bob", -1, out);
    state.typing("ann", 1000);
    for (int i = 0; i < 40; i++) {
      String q = "q" + i;
      state.post(
          SessionMessage.user(q, "ann", "question " + i + " ünïcödé", 1700 + i),
          new SessionState.NewAnswer("a" + i, "chatcmpl-" + i, 1700 + i),
          out);
      if (i == 39) {
        break;
      }
      state.relay(
          "chatcmpl-" + i,
          List.of(
              GenerationEvent.delta(1, "hello "),
              GenerationEvent.reset(2, FAILURE),
              GenerationEvent.delta(3, "again"),
              i % 3 == 0
                  ? GenerationEvent.done(4, "stop", Usage.of(3, 4))
                  : i % 3 == 1
                      ? GenerationEvent.error(4, FAILURE, null)
                      : GenerationEvent.cancelled(4, Usage.of(1, 1))),
          null,
          out);
      state.endAnswer(
          "a" + i, "stopped", "cancelled", null, new SessionState.NewAnswer("x", "y", 0), out);
    }
    state.post(
        SessionMessage.user("queued", "ann", "waits", 1800),
        new SessionState.NewAnswer("aq", "chatcmpl-q", 1800),
        out);
    state.relay("chatcmpl-39", List.of(GenerationEvent.delta(1, "partial")), null, out);
    return state;
  }

  /** An op that changes the session. */
  public static SessionOp<?> op() {
    return new SessionOps.Post(
        SessionMessage.user("u1", "ann", "hi", 1), new SessionState.NewAnswer("a1", "g1", 1), 9, 2);
  }

  /** What an op gave, with the events it caused. */
  public static SessionResult<?> result() {
    return new SessionResult<>(new SessionState.Relayed(null, 3, false), state().log);
  }

  /** An instance of every session type the cluster codecs know. */
  public static List<Object> all() {
    SessionState state = state();
    SessionMessage message =
        new SessionMessage(
            "m", "assistant", "assistant", "text", 5, "g", "failed", "stop", "e", "q");
    SessionState.NewAnswer ids = new SessionState.NewAnswer("m2", "g2", 7);
    SessionState.NextAnswer next =
        new SessionState.NextAnswer(
            "m2",
            "g2",
            "acme",
            "mock",
            null,
            List.of(message, SessionMessage.user("u", "a", "", 1)));
    List<SessionEvent> events = new ArrayList<>(state.log);
    List<GenerationEvent> generationEvents = new ArrayList<>();
    generationEvents.add(GenerationEvent.delta(1, "a", "{\"x\":1}"));
    generationEvents.add(GenerationEvent.toolCall(2, "{\"tool\":true}"));
    generationEvents.add(GenerationEvent.recovery(3, "retry", FAILURE, "{}"));
    generationEvents.add(GenerationEvent.done(4, "stop", null));
    return List.of(
        state,
        message,
        events.get(events.size() - 1),
        events.get(0),
        new SessionResult<>(next, events),
        new SessionResult<>(null, List.of()),
        new SessionResult<>(7L, List.of()),
        new SessionResult<>("acme", List.of()),
        new SessionResult<>(new ArrayList<>(events.subList(0, 3)), List.of()),
        new SessionBatch("sess_1", events),
        ids,
        next,
        new SessionState.Relayed(next, 4, true),
        new SessionState.Relayed(null, -1, false),
        state.view(),
        new SessionOps.Posted(next, false, FAILURE),
        new SessionOps.Posted(null, true, null),
        new SessionOps.Post(message, ids, 1000, 5),
        new SessionOps.Relay("g", new ArrayList<>(generationEvents), ids),
        new SessionOps.Relay("g", new ArrayList<>(), null),
        new SessionOps.Relayed("g"),
        new SessionOps.EndAnswer("m", "failed", "error", FAILURE, ids),
        new SessionOps.EndAnswer("m", "stopped", "cancelled", null, null),
        new SessionOps.Stop(),
        new SessionOps.Presence("ann", -1, 8),
        new SessionOps.LeftIfGone("ann"),
        new SessionOps.Typing("ann", 99),
        new SessionOps.Tenant(),
        new SessionOps.View(),
        new SessionOps.ReadAfter(12),
        new SessionOps.Summary(),
        SessionEvent.deleted(),
        state.summary(),
        new SessionState("sess_2", "acme", "", "mock", "", 1).summary());
  }
}
