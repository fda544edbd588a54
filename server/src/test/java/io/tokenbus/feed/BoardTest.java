package io.tokenbus.feed;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.auth.Principal;
import io.tokenbus.bus.Creator;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.fanout.WebSocketFrames;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.support.Recorder;
import io.tokenbus.support.ScriptedStore;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A node's {@link Board} fed what other nodes publish (the wire between nodes), watched through a
 * socket that cannot keep up: what waits is merged, and bounded.
 */
@ExtendWith(VertxExtension.class)
@DisplayName("Board: a slow dashboard is merged, never allowed to grow memory")
class BoardTest {

  /** A socket whose write queue is full until {@link #drain()}. */
  private static final class SlowSink implements Watcher.Sink {
    final Recorder<JsonObject> frames = new Recorder<>();
    volatile boolean full = true;
    volatile Runnable drained;

    @Override
    public boolean full() {
      return full;
    }

    @Override
    public void write(Buffer frame) {
      frames.add(new JsonObject(WebSocketFrames.textOf(frame)));
    }

    @Override
    public void whenDrained(Runnable action) {
      drained = action;
    }

    @Override
    public boolean closed() {
      return false;
    }

    void drain(Vertx vertx) {
      full = false;
      Runnable action = drained;
      if (action != null) {
        vertx.runOnContext(v -> action.run());
      }
    }
  }

  /** A second watcher of the board, through a socket that keeps up. */
  private static SlowSink fast(Board board) {
    SlowSink fast = new SlowSink();
    fast.full = false;
    board.watch(Watcher.Feed.GENERATIONS, Principal.ANONYMOUS, null, Map.of(), fast);
    return fast;
  }

  private static JsonObject started(String id) {
    return new JsonObject()
        .put("event", "started")
        .put("id", id)
        .put("model", "mock")
        .put("tenant", "acme")
        .put("node", "node-a")
        .put("metadata", new JsonObject())
        .put("created", 1L);
  }

  private static JsonObject report(String id, long tokens) {
    return new JsonObject()
        .put("node", "node-a")
        .put("time", System.currentTimeMillis())
        .put(
            "progress",
            new JsonArray()
                .add(
                    new JsonObject()
                        .put("id", id)
                        .put("tokens", tokens)
                        .put("tokens_per_second", (double) tokens)
                        .put("recoveries", 0)))
        .put("viewers_of", new JsonObject());
  }

  @Test
  @DisplayName("while the socket is full, a generation's progress waits as its latest one only")
  void merged(Vertx vertx) {
    Board board = new Board(vertx, new ScriptedStore(vertx), 1000);
    await(board.start());
    SlowSink sink = new SlowSink();
    board.watch(Watcher.Feed.GENERATIONS, Principal.ANONYMOUS, null, Map.of(), sink);
    SlowSink fast = fast(board);
    vertx.eventBus().publish(GenerationFeed.GENERATIONS, started("g1"));
    for (int tokens = 1; tokens <= 20; tokens++) {
      vertx.eventBus().publish(GenerationFeed.NODES, report("g1", tokens));
    }
    // The board handles what it hears in order: once a socket that keeps up has the marker, the
    // slow one has been offered everything before it.
    vertx.eventBus().publish(GenerationFeed.GENERATIONS, started("marker"));
    await(fast.frames.whenAny(f -> "marker".equals(f.getString("id"))), 10);
    assertEquals(0, sink.frames.size(), "nothing is written while the socket is full");
    sink.drain(vertx);
    List<JsonObject> frames =
        await(
            sink.frames
                .whenAny(f -> "marker".equals(f.getString("id")))
                .compose(f -> sink.frames.when(all -> true)),
            10);
    List<JsonObject> progress =
        frames.stream().filter(f -> "generation.progress".equals(f.getString("type"))).toList();
    assertEquals(1, progress.size(), frames.toString());
    assertEquals(20, progress.get(0).getLong("tokens"), "the latest");
    assertEquals("watching", frames.get(0).getString("type"));
    assertEquals("generation.started", frames.get(1).getString("type"));
  }

  @Test
  @DisplayName(
      "a node's report taken before a generation finished, arriving after its end, does not bring"
          + " it back")
  void lateReportAfterFinish(Vertx vertx) {
    ScriptedStore store = new ScriptedStore(vertx);
    // The store still has it running: only the board's memory of its end keeps it away.
    await(
        store.create(
            new GenerationInfo(
                "g1",
                "mock",
                1,
                new GenerationRequest(
                    "mock", new JsonObject(), null, null, new Creator("acme", "acme#1")),
                "node-a",
                1)));
    Board board = new Board(vertx, store, 1000);
    await(board.start());
    SlowSink fast = fast(board);
    vertx.eventBus().publish(GenerationFeed.GENERATIONS, started("g1"));
    vertx
        .eventBus()
        .publish(
            GenerationFeed.GENERATIONS,
            started("g1").put("event", "finished").put("status", "completed"));
    vertx.eventBus().publish(GenerationFeed.NODES, report("g1", 7));
    vertx.eventBus().publish(GenerationFeed.GENERATIONS, started("marker"));
    await(fast.frames.whenAny(f -> "marker".equals(f.getString("id"))), 10);
    // A store read the report may have started answers on the board's loop after the marker:
    // a second marker comes after that answer.
    vertx.eventBus().publish(GenerationFeed.GENERATIONS, started("marker2"));
    List<JsonObject> frames =
        await(
            fast.frames.when(
                all -> all.stream().anyMatch(f -> "marker2".equals(f.getString("id")))),
            10);
    assertEquals(
        List.of("generation.started", "generation.finished"),
        frames.stream()
            .filter(f -> "g1".equals(f.getString("id")))
            .map(f -> f.getString("type"))
            .toList(),
        frames.toString());
  }

  @Test
  @DisplayName(
      "past websocket.max-feed-pending, what waits is dropped; once drained the socket gets"
          + " feed.reset and the current state again")
  void overflow(Vertx vertx) {
    Board board = new Board(vertx, new ScriptedStore(vertx), 16);
    await(board.start());
    SlowSink sink = new SlowSink();
    board.watch(Watcher.Feed.GENERATIONS, Principal.ANONYMOUS, null, Map.of(), sink);
    SlowSink fast = fast(board);
    for (int i = 0; i < 40; i++) {
      vertx.eventBus().publish(GenerationFeed.GENERATIONS, started("g" + i));
    }
    vertx
        .eventBus()
        .publish(
            GenerationFeed.GENERATIONS,
            new JsonObject(
                started("g0").put("event", "finished").put("status", "completed").encode()));
    vertx.eventBus().publish(GenerationFeed.GENERATIONS, started("marker"));
    await(fast.frames.whenAny(f -> "marker".equals(f.getString("id"))), 10);
    assertEquals(0, sink.frames.size());
    sink.drain(vertx);
    List<JsonObject> frames =
        await(
            sink.frames.when(
                all ->
                    all.stream()
                        .anyMatch(
                            f ->
                                "watching".equals(f.getString("type"))
                                    && f.getInteger("running") == 40)),
            10,
            "the state again");
    assertEquals("feed.reset", frames.get(0).getString("type"), frames.toString());
    long started =
        frames.stream().filter(f -> "generation.started".equals(f.getString("type"))).count();
    assertEquals(40, started, "the 40 running (the marker too), once each");
    assertTrue(
        frames.stream().noneMatch(f -> "g0".equals(f.getString("id"))),
        "the finished one is not in the state");
  }
}
