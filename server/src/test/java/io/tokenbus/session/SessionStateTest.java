package io.tokenbus.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.bus.GenerationEvent;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The session's rules, on the state alone: one answer at a time, copies taken once, typing
 * throttled.
 */
class SessionStateTest {

  private static SessionState.NewAnswer ids(String n) {
    return new SessionState.NewAnswer("msg_a" + n, "gen_" + n, 0);
  }

  @Test
  @DisplayName(
      "a question asked during an answer waits; the next answer sees the transcript up to its own question")
  void queueAndHistory() {
    SessionState state = new SessionState("s", "default", "", "mock", "", 0);
    List<SessionEvent> out = new ArrayList<>();
    SessionState.NextAnswer first =
        state.post(SessionMessage.user("u1", "Ann", "one", 0), ids("1"), out);
    assertNotNull(first);
    assertNull(
        state.post(SessionMessage.user("u2", "Bob", "two", 0), ids("x"), out),
        "queued behind the answer in progress");
    assertNull(state.post(SessionMessage.user("u3", "Ann", "three", 0), ids("y"), out));
    // The first answer's events arrive twice (a retried copy): taken once.
    List<GenerationEvent> events =
        List.of(GenerationEvent.delta(1, "A"), GenerationEvent.delta(2, "B"));
    state.relay("gen_1", events, ids("2"), out);
    state.relay("gen_1", events, ids("2"), out);
    SessionState.NextAnswer second =
        state.relay("gen_1", List.of(GenerationEvent.done(3, "stop", null)), ids("2"), out).next();
    assertEquals(
        second,
        state.relay("gen_1", List.of(GenerationEvent.done(3, "stop", null)), ids("2"), out).next(),
        "a copy retried after it landed gives the same next answer");
    assertEquals("AB", state.messages.get(1).content());
    assertNotNull(second);
    assertEquals(
        List.of("u1", "msg_a1", "u2"), second.history().stream().map(SessionMessage::id).toList());
    assertEquals(
        List.of("u1", "msg_a1", "u2", "u3", "msg_a2"),
        state.messages.stream().map(SessionMessage::id).toList());
    assertEquals(
        0,
        state.relay("gen_2", List.of(GenerationEvent.delta(2, "D")), ids("3"), out).gapAfter(),
        "a copy that skips seq 1 is refused, naming the last seq the session has");
    assertTrue(state.relay("gen_9", List.of(GenerationEvent.delta(1, "?")), ids("3"), out).stale());
    SessionState.NextAnswer third =
        state
            .relay(
                "gen_2",
                List.of(GenerationEvent.delta(1, "C"), GenerationEvent.done(2, "stop", null)),
                ids("3"),
                out)
            .next();
    assertEquals(
        List.of("u1", "msg_a1", "u2", "msg_a2", "u3"),
        third.history().stream().map(SessionMessage::id).toList(),
        "each question is followed by its own answer, though u3 was asked before a2 began");
    assertEquals("u3", state.messages.get(5).replyTo());
    for (int i = 0; i < out.size(); i++) {
      assertEquals(i + 1, out.get(i).seq());
    }
  }

  @Test
  @DisplayName("typing is said at most once per interval per person")
  void typingThrottle() {
    SessionState state = new SessionState("s", "default", "", "mock", "", 0);
    List<SessionEvent> out = new ArrayList<>();
    state.presence("Ann", 1, out);
    state.presence("Bob", 1, out);
    assertEquals(
        List.of(true, false, true, true, false),
        List.of(
            state.typing("Ann", 1000),
            state.typing("Ann", 1500),
            state.typing("Bob", 1500),
            state.typing("Ann", 1000 + SessionState.TYPING_INTERVAL_MS),
            state.typing("Eve", 2000)),
        "Eve is not here");
    assertEquals(2, out.size(), "typing is not kept in the log");
  }

  @Test
  @DisplayName(
      "presence: a reconnect within the grace says nothing; joined and left are said once each")
  void presenceGrace() {
    SessionState state = new SessionState("s", "default", "", "mock", "", 0);
    List<SessionEvent> out = new ArrayList<>();
    state.presence("Ann", 1, out);
    state.presence("Ann", -1, out); // the only tab reloads…
    state.presence("Ann", 1, out); // …and is back before the grace ends
    state.leftIfGone("Ann", out);
    assertEquals(List.of("joined"), out.stream().map(SessionEvent::state).toList());
    assertEquals(List.of("Ann"), state.present());
    state.presence("Ann", -1, out);
    state.leftIfGone("Ann", out);
    state.leftIfGone("Ann", out);
    state.presence("Bob", -1, out); // a close never matched by an open changes nothing
    assertEquals(List.of("joined", "left"), out.stream().map(SessionEvent::state).toList());
    assertEquals(List.of(), state.present());
  }

  @Test
  @DisplayName("the in-memory store deletes a session only once it has been idle for the expiry")
  void expiry() {
    Vertx vertx = Vertx.vertx();
    try {
      InMemorySessionStore store = new InMemorySessionStore(vertx, 10, 60_000);
      long now = System.currentTimeMillis();
      store.create(new SessionState("s1", "default", "", "mock", "", now / 1000));
      store.sweep(now + 30_000);
      assertNotNull(store.apply("s1", new SessionOps.View()).result(), "30 s idle of 60: kept");
      store.sweep(now + 61_000);
      assertNull(store.apply("s1", new SessionOps.View()).result(), "61 s idle: deleted");
    } finally {
      vertx.close();
    }
  }

  @Test
  @DisplayName(
      "the in-memory store counts what its sessions hold as they change, refuses past"
          + " sessions.max-bytes, and counts a session out when it expires")
  void countsBytes() {
    Vertx vertx = Vertx.vertx();
    try {
      InMemorySessionStore store = new InMemorySessionStore(vertx, 10, 20_000, 60_000, 60_000);
      long now = System.currentTimeMillis();
      SessionState session = new SessionState("s1", "default", "", "mock", "", now / 1000);
      store.create(session);
      assertEquals(session.bytes(), store.bytes());
      long created = store.bytes();
      assertNotNull(
          store
              .apply(
                  "s1",
                  new SessionOps.Post(
                      SessionMessage.user("u1", "Ann", "x".repeat(4000), 0), ids("1"), 100_000, 10))
              .result());
      assertEquals(session.bytes(), store.bytes(), "counted as it changed, not recomputed");
      assertTrue(
          store.bytes() >= created + 4 * 4000, "the message, in the transcript and in the log");
      assertFalse(store.full());
      store.apply(
          "s1",
          new SessionOps.Post(
              SessionMessage.user("u2", "Ann", "y".repeat(4000), 0), ids("2"), 100_000, 10));
      assertTrue(store.full(), store.bytes() + " of 20000");
      assertInstanceOf(
          SessionStorageFullException.class,
          store.create(new SessionState("s2", "default", "", "mock", "", now / 1000)).cause());
      store.sweep(now + 61_000);
      assertEquals(0, store.bytes(), "expired: counted out");
      assertFalse(store.full());
    } finally {
      vertx.close();
    }
  }

  @Test
  @DisplayName(
      "a session nobody posted to is deleted after the unused expiry; a used one lives to the idle"
          + " expiry")
  void unusedExpiry() {
    Vertx vertx = Vertx.vertx();
    try {
      InMemorySessionStore store = new InMemorySessionStore(vertx, 10, 60_000, 20_000);
      long now = System.currentTimeMillis();
      store.create(new SessionState("empty", "default", "", "mock", "", now / 1000));
      SessionState used = new SessionState("used", "default", "", "mock", "", now / 1000);
      used.post(SessionMessage.user("u1", "Ann", "hello", 0), ids("1"), new ArrayList<>());
      store.create(used);
      store.sweep(now + 21_000);
      assertNull(store.apply("empty", new SessionOps.View()).result(), "21 s unused: deleted");
      assertNotNull(store.apply("used", new SessionOps.View()).result(), "21 s idle of 60: kept");
      store.sweep(now + 61_000);
      assertNull(store.apply("used", new SessionOps.View()).result(), "61 s idle: deleted");
    } finally {
      vertx.close();
    }
  }

  @Test
  @DisplayName(
      "stop gives up the queue, but a question posted after the stop is answered once the stopped answer ends")
  void questionAfterStop() {
    SessionState state = new SessionState("s", "default", "", "mock", "", 0);
    List<SessionEvent> out = new ArrayList<>();
    state.post(SessionMessage.user("u1", "Ann", "one", 0), ids("1"), out);
    state.post(SessionMessage.user("u2", "Bob", "two", 0), ids("x"), out);
    assertEquals("msg_a1", state.stop());
    state.post(SessionMessage.user("u3", "Cy", "three", 0), ids("y"), out);
    SessionState.NextAnswer next =
        state.endAnswer("msg_a1", "stopped", "cancelled", null, ids("3"), out);
    assertEquals("u3", state.messages.get(state.messages.size() - 1).replyTo());
    assertNotNull(next);
    assertTrue(
        state.messages.stream().noneMatch(m -> "u2".equals(m.replyTo())),
        "u2 was given up by the stop");
  }

  @Test
  @DisplayName(
      "a post past sessions.max-queued is refused with 429, and a post retried by the store is not added twice")
  void queueLimitAndRetriedPost() {
    SessionState state = new SessionState("s", "default", "", "mock", "", 0);
    List<SessionEvent> out = new ArrayList<>();
    SessionMessage first = SessionMessage.user("u1", "Ann", "one", 0);
    SessionOps.Posted posted = new SessionOps.Post(first, ids("1"), 10_000, 1).apply(state, out);
    assertEquals(
        posted.next(),
        new SessionOps.Post(first, ids("1"), 10_000, 1).apply(state, out).next(),
        "same outcome again");
    assertEquals(2, state.messages.size(), "the question and its answer, once");
    assertNull(
        new SessionOps.Post(SessionMessage.user("u2", "Ann", "two", 0), ids("2"), 10_000, 1)
            .apply(state, out)
            .refused());
    SessionOps.Posted refused =
        new SessionOps.Post(SessionMessage.user("u3", "Ann", "three", 0), ids("3"), 10_000, 1)
            .apply(state, out);
    assertEquals(429, refused.refused().status());
    assertEquals("queue_full", refused.refused().code());
  }
}
