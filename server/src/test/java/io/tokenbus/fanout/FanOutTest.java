package io.tokenbus.fanout;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.bus.Addresses;
import io.tokenbus.bus.BusCodec;
import io.tokenbus.bus.Creator;
import io.tokenbus.bus.EventBatch;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.config.ConfigLoader;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.GenerationSource;
import io.tokenbus.generation.InMemoryGenerationStore;
import io.tokenbus.support.Poll;
import io.tokenbus.support.RecordingOutput;
import io.tokenbus.support.ScriptedStore;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.LongStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(VertxExtension.class)
@DisplayName("FanOut")
class FanOutTest {

  private InMemoryGenerationStore store;
  private FanOut fanOut;
  private GenerationInfo info;

  @BeforeEach
  void setUp(Vertx vertx) {
    BusCodec.registerAll(vertx);
    store = new InMemoryGenerationStore(vertx, 60_000);
    fanOut = new FanOut(vertx, ConfigLoader.load((Path) null, Map.of()).viewer());
    info =
        new GenerationInfo(
            "chatcmpl-test",
            "mock",
            1,
            new GenerationRequest("mock", new JsonObject(), null, null, Creator.ANONYMOUS),
            "node",
            1);
    await(store.create(info));
  }

  /** Starts a viewer on a fresh per-request duplicate of {@code loop}, as an HTTP handler would. */
  private Future<Viewer<GenerationEvent>> startOn(
      Context loop, RecordingOutput<GenerationEvent> output) {
    Promise<Viewer<GenerationEvent>> started = Promise.promise();
    ((ContextInternal) loop)
        .duplicate()
        .runOnContext(
            v -> {
              Viewer<GenerationEvent> viewer =
                  new Viewer<>(fanOut, new GenerationSource(info, store), 0, false, output);
              viewer.start();
              started.complete(viewer);
            });
    return started.future();
  }

  private Future<Void> append(Vertx vertx, GenerationEvent... events) {
    return store
        .append(info.id(), 1, List.of(events))
        .onSuccess(
            v ->
                vertx
                    .eventBus()
                    .publish(
                        Addresses.events(info.id()),
                        new EventBatch(info.id(), 1, List.of(events))));
  }

  @Test
  @DisplayName("viewers are grouped by event loop, and each gets every event once, on its own loop")
  void oneGroupPerLoop(Vertx vertx) {
    Context loopA =
        ((VertxInternal) vertx).createEventLoopContext(); // each takes the next event loop
    Context loopB = ((VertxInternal) vertx).createEventLoopContext();
    assertTrue(
        ((ContextInternal) loopA).nettyEventLoop() != ((ContextInternal) loopB).nettyEventLoop(),
        "two loops");
    List<RecordingOutput<GenerationEvent>> outputs = new ArrayList<>();
    for (Context loop : List.of(loopA, loopA, loopA, loopB, loopB)) {
      RecordingOutput<GenerationEvent> output = new RecordingOutput<>();
      outputs.add(output);
      await(startOn(loop, output));
    }
    assertEquals(
        2,
        fanOut.loops(Addresses.events(info.id())),
        "one group per event loop, not per request context");
    await(append(vertx, GenerationEvent.delta(1, "a"), GenerationEvent.delta(2, "b")));
    await(append(vertx, GenerationEvent.done(3, "stop", null)));
    for (RecordingOutput<GenerationEvent> output : outputs) {
      List<GenerationEvent> events = await(output.events.whenCount(3));
      assertEquals(List.of(1L, 2L, 3L), events.stream().map(GenerationEvent::seq).toList());
      assertEquals(1, output.threads.stream().distinct().count(), "one loop per viewer");
    }
    // A viewer leaves on its own loop once it has written the terminal event, which may be after
    // this thread saw the event arrive.
    await(
        Poll.until(
            vertx,
            () -> Future.succeededFuture(fanOut.viewers(Addresses.events(info.id()))),
            viewers -> viewers == 0,
            5_000),
        10,
        "viewers leave after the terminal event");
  }

  @Test
  @DisplayName(
      "batches that reach a loop before it could write the first go to each viewer in one write")
  void coalescesWhatPilesUp(Vertx vertx) {
    Context loop = ((VertxInternal) vertx).createEventLoopContext();
    List<RecordingOutput<GenerationEvent>> outputs =
        List.of(new RecordingOutput<>(), new RecordingOutput<>());
    for (RecordingOutput<GenerationEvent> output : outputs) {
      await(startOn(loop, output));
    }
    await(append(vertx, GenerationEvent.delta(1, "a")));
    for (RecordingOutput<GenerationEvent> output : outputs) {
      await(output.events.whenCount(1));
    }
    // Three batches published in one task of the viewers' loop: all three are queued before its
    // pass runs.
    Promise<Void> published = Promise.promise();
    loop.runOnContext(
        v -> {
          for (long seq = 2; seq <= 4; seq++) {
            GenerationEvent event = GenerationEvent.delta(seq, "x" + seq);
            vertx
                .eventBus()
                .publish(Addresses.events(info.id()), new EventBatch(info.id(), 1, List.of(event)));
          }
          published.complete();
        });
    await(published.future());
    for (RecordingOutput<GenerationEvent> output : outputs) {
      List<GenerationEvent> events = await(output.events.whenCount(4));
      assertEquals(List.of(1L, 2L, 3L, 4L), events.stream().map(GenerationEvent::seq).toList());
      assertEquals(
          List.of(1, 3),
          output.writes,
          "one write for the first batch, one for the three that piled up");
    }
  }

  @Test
  @DisplayName(
      "a loop's inbox holds at most viewer.catch-up-buffer-events: past it batches are dropped, and its viewers read them from the log")
  void inboxIsBounded(Vertx vertx) {
    fanOut =
        new FanOut(
            vertx,
            ConfigLoader.load((Path) null, Map.of("TOKENBUS_VIEWER_CATCH_UP_BUFFER_EVENTS", "4"))
                .viewer());
    Context loop = ((VertxInternal) vertx).createEventLoopContext();
    RecordingOutput<GenerationEvent> output = new RecordingOutput<>();
    await(startOn(loop, output));
    await(append(vertx, GenerationEvent.delta(1, "a")));
    await(output.events.whenCount(1));
    List<GenerationEvent> more = new ArrayList<>();
    for (long seq = 2; seq <= 10; seq++) {
      more.add(GenerationEvent.delta(seq, "x" + seq));
    }
    more.add(GenerationEvent.done(11, "stop", null));
    await(store.append(info.id(), 1, more));
    // Ten batches published in one task of the viewer's loop: all reach its inbox before a pass
    // runs.
    loop.runOnContext(
        v ->
            more.forEach(
                event ->
                    vertx
                        .eventBus()
                        .publish(
                            Addresses.events(info.id()),
                            new EventBatch(info.id(), 1, List.of(event)))));
    List<GenerationEvent> events = await(output.events.whenCount(11));
    assertEquals(
        LongStream.rangeClosed(1, 11).boxed().toList(),
        events.stream().map(GenerationEvent::seq).toList());
    assertEquals(
        List.of(1, 4, 6),
        output.writes,
        "the first batch; the four the inbox held, in one write; the rest read from the log");
  }

  @Test
  @DisplayName(
      "after resync, a viewer gets what the log has but was never published (an owner died in between)")
  void resyncDeliversUnpublishedEvents(Vertx vertx) {
    RecordingOutput<GenerationEvent> output = new RecordingOutput<>();
    await(startOn(vertx.getOrCreateContext(), output));
    await(append(vertx, GenerationEvent.delta(1, "a")));
    await(output.events.whenCount(1));
    await(
        store.append(
            info.id(),
            1,
            List.of(GenerationEvent.delta(2, "b"), GenerationEvent.done(3, "stop", null))));
    fanOut.resync();
    assertEquals(
        List.of(1L, 2L, 3L),
        await(output.events.whenCount(3)).stream().map(GenerationEvent::seq).toList());
  }

  @Test
  @DisplayName(
      "a resync that comes while the viewer is reading the log is not lost: the read may predate the unpublished events")
  void resyncDuringARead(Vertx vertx) {
    ScriptedStore scripted = new ScriptedStore(vertx);
    FanOut fanOut = new FanOut(vertx, ConfigLoader.load((Path) null, Map.of()).viewer());
    await(scripted.create(info));
    await(scripted.append(info.id(), 1, List.of(GenerationEvent.delta(1, "a"))));
    Promise<Void> release = scripted.holdNextRead(); // the viewer's join read
    RecordingOutput<GenerationEvent> output = new RecordingOutput<>();
    Context loop = vertx.getOrCreateContext();
    loop.runOnContext(
        v -> new Viewer<>(fanOut, new GenerationSource(info, scripted), 0, false, output).start());
    await(scripted.readsTaken().whenCount(1));
    // Stored by an owner that then died, never published; the member-left resync comes mid-read.
    await(
        scripted.append(
            info.id(),
            1,
            List.of(GenerationEvent.delta(2, "b"), GenerationEvent.done(3, "stop", null))));
    loop.runOnContext(
        v -> {
          fanOut.resync();
          loop.runOnContext(w -> release.complete());
        });
    assertEquals(
        List.of(1L, 2L, 3L),
        await(output.events.whenCount(3), 5).stream().map(GenerationEvent::seq).toList());
  }

  @Test
  @DisplayName("a batch from a superseded owner epoch is dropped")
  void staleEpochBatchesAreDropped(Vertx vertx) {
    RecordingOutput<GenerationEvent> output = new RecordingOutput<>();
    await(startOn(vertx.getOrCreateContext(), output));
    vertx
        .eventBus()
        .publish(
            Addresses.events(info.id()),
            new EventBatch(info.id(), 2, List.of(GenerationEvent.delta(1, "new"))));
    await(output.events.whenCount(1));
    vertx
        .eventBus()
        .publish(
            Addresses.events(info.id()),
            new EventBatch(info.id(), 1, List.of(GenerationEvent.delta(2, "old"))));
    vertx
        .eventBus()
        .publish(
            Addresses.events(info.id()),
            new EventBatch(info.id(), 2, List.of(GenerationEvent.delta(2, "new2"))));
    List<GenerationEvent> events = await(output.events.whenCount(2));
    assertEquals("new2", events.get(1).text());
  }

  @Test
  @DisplayName("viewers that come and go leave no loop groups behind")
  void churnLeavesNoGroups(Vertx vertx) {
    Context loop = vertx.getOrCreateContext();
    RecordingOutput<GenerationEvent> stays = new RecordingOutput<>();
    await(startOn(loop, stays));
    for (int i = 0; i < 100; i++) {
      Viewer<GenerationEvent> passing = await(startOn(loop, new RecordingOutput<>()));
      Promise<Void> closed = Promise.promise();
      loop.runOnContext(
          v -> {
            passing.close();
            closed.complete();
          });
      await(closed.future());
    }
    assertEquals(1, fanOut.viewers(Addresses.events(info.id())));
    assertEquals(1, fanOut.loops(Addresses.events(info.id())));
    await(append(vertx, GenerationEvent.delta(1, "x")));
    assertEquals(1, await(stays.events.whenCount(1)).size());
  }
}
