package io.tokenbus.session;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tokenbus.bus.Addresses;
import io.tokenbus.bus.BusCodec;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.config.ConfigLoader;
import io.tokenbus.fanout.FanOut;
import io.tokenbus.fanout.Viewer;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.InMemoryGenerationStore;
import io.tokenbus.support.Recorder;
import io.tokenbus.support.RecordingOutput;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(VertxExtension.class)
@DisplayName("The sessions service on an in-memory store")
class SessionsServiceTest {

  /**
   * The in-memory store, except that the reply of the first copy carrying an answer's end is lost
   * (the copy itself lands).
   */
  private static final class LosesOneReply implements SessionStore {
    private final SessionStore store;
    private boolean lost;

    LosesOneReply(SessionStore store) {
      this.store = store;
    }

    @Override
    public Future<Void> create(SessionState session) {
      return store.create(session);
    }

    @Override
    public int localCount() {
      return store.localCount();
    }

    @Override
    public Future<Integer> count(String tenant) {
      return store.count(tenant);
    }

    @Override
    public Future<List<SessionSummary>> list(SessionQuery query) {
      return store.list(query);
    }

    @Override
    public Future<Boolean> remove(String id) {
      return store.remove(id);
    }

    @Override
    public <T> Future<SessionResult<T>> apply(String id, SessionOp<T> op) {
      Future<SessionResult<T>> result = store.apply(id, op);
      if (!lost
          && op instanceof SessionOps.Relay relay
          && relay.events().stream().anyMatch(GenerationEvent::terminal)) {
        lost = true;
        return result.compose(r -> Future.failedFuture("the reply was lost"));
      }
      return result;
    }
  }

  @Test
  @DisplayName(
      "a copy that ended the answer but lost its reply is retried, and the queued question's answer still starts")
  void lostReplyStillStartsTheNextAnswer(Vertx vertx) {
    var config = ConfigLoader.load((Path) null, Map.of()).sessions();
    Sessions sessions =
        new Sessions(
            vertx,
            new LosesOneReply(new InMemorySessionStore(vertx, 10, 60_000)),
            new InMemoryGenerationStore(vertx, 60_000),
            config);
    Recorder<GenerationRequest> started = new Recorder<>();
    sessions.starter(
        request -> {
          started.add(request);
          return Future.succeededFuture();
        });
    String id = await(sessions.create("default", "", "mock", "", 0)).id();
    await(sessions.post(id, "Ann", "one"));
    await(sessions.post(id, "Bob", "two")); // queued behind the first answer
    GenerationRequest first = await(started.whenCount(1)).get(0);
    GenerationInfo info =
        new GenerationInfo(first.session().generation(), "mock", 1, first, "node", 1);

    sessions.committed(
        info, List.of(GenerationEvent.delta(1, "Hi"), GenerationEvent.done(2, "stop", null)));

    List<GenerationRequest> both = await(started.whenCount(2), 10);
    assertEquals(
        "two",
        both.get(1).body().getJsonArray("messages").getJsonObject(2).getString("content"),
        "the second answer is asked the second question, after the first and its answer");
  }

  @Test
  @DisplayName(
      "with sessions.presence-grace-seconds 0, someone whose last connection closes has left at once")
  void noGraceLeavesAtOnce(Vertx vertx) {
    var config =
        ConfigLoader.load((Path) null, Map.of("TOKENBUS_SESSIONS_PRESENCE_GRACE_SECONDS", "0"))
            .sessions();
    Sessions sessions =
        new Sessions(
            vertx,
            new InMemorySessionStore(vertx, 10, 60_000),
            new InMemoryGenerationStore(vertx, 60_000),
            config);
    String id = await(sessions.create("default", "", "mock", "", 0)).id();
    await(sessions.presence(id, "Ann", 1));
    assertEquals(List.of("Ann"), await(sessions.view(id)).participants());
    Recorder<SessionEvent> events = new Recorder<>();
    vertx
        .eventBus()
        .<SessionBatch>consumer(
            Addresses.sessionEvents(id), m -> m.body().events().forEach(events::add));
    sessions.leave(id, "Ann");
    await(
        events.whenAny(
            e ->
                e.type().equals("presence")
                    && "left".equals(e.state())
                    && "Ann".equals(e.author())),
        5);
    assertEquals(List.of(), await(sessions.view(id)).participants());
  }

  /**
   * The in-memory store, recording the ops it runs; the first read's answer (taken at once) is held
   * back until {@link #release}, as a slow store's would be.
   */
  private static final class Watched implements SessionStore {
    final SessionStore store;
    final Recorder<SessionOp<?>> ops = new Recorder<>();
    final Promise<Void> released = Promise.promise();
    private int reads;

    Watched(SessionStore store) {
      this.store = store;
    }

    void release() {
      released.complete();
    }

    @Override
    public Future<Void> create(SessionState session) {
      return store.create(session);
    }

    @Override
    public int localCount() {
      return store.localCount();
    }

    @Override
    public Future<Integer> count(String tenant) {
      return store.count(tenant);
    }

    @Override
    public Future<List<SessionSummary>> list(SessionQuery query) {
      return store.list(query);
    }

    @Override
    public Future<Boolean> remove(String id) {
      return store.remove(id);
    }

    @Override
    public <T> Future<SessionResult<T>> apply(String id, SessionOp<T> op) {
      Future<SessionResult<T>> result = store.apply(id, op).onSuccess(r -> ops.add(op));
      return op instanceof SessionOps.ReadAfter && ++reads == 1
          ? result.compose(r -> released.future().map(r))
          : result;
    }
  }

  @Test
  @DisplayName("after a cluster member leaves, viewers read what it stored but never published")
  void resyncReadsWhatWasNeverPublished(Vertx vertx) {
    Watched store = new Watched(new InMemorySessionStore(vertx, 10, 60_000));
    Sessions sessions =
        new Sessions(
            vertx,
            store,
            new InMemoryGenerationStore(vertx, 60_000),
            ConfigLoader.load((Path) null, Map.of()).sessions());
    FanOut fanOut = new FanOut(vertx, ConfigLoader.load((Path) null, Map.of()).viewer());
    String id = await(sessions.create("default", "", "mock", "", 0)).id();
    RecordingOutput<SessionEvent> output = new RecordingOutput<>();
    Recorder<Long> seen = output.seqs;
    Context loop = vertx.getOrCreateContext();
    loop.runOnContext(
        v -> new Viewer<>(fanOut, new SessionSource(id, sessions), 0, false, output).start());
    // The viewer's join read is taken before the unpublished change; its answer is still on its way
    // when the member leaves.
    await(
        store.ops.when(ops -> ops.stream().anyMatch(op -> op instanceof SessionOps.ReadAfter)), 10);
    SessionMessage message = SessionMessage.user("msg_x", "Ann", "stored, never published", 0);
    await(
        store.apply(
            id,
            new SessionOps.Post(
                message, new SessionState.NewAnswer("msg_y", "gen_y", 0), 100_000, 10)));
    assertEquals(List.of(), seen.items());

    fanOut.resync(); // while that read is in flight: it must not be lost
    store.release();
    assertEquals(List.of(1L), await(seen.whenCount(1), 5).subList(0, 1));
  }

  @Test
  @DisplayName(
      "a deleted session's viewer gets 'deleted' and ends even while it is still reading the log")
  void deletionEndsACatchingUpViewer(Vertx vertx) {
    BusCodec.registerAll(vertx);
    Watched store = new Watched(new InMemorySessionStore(vertx, 10, 60_000));
    Sessions sessions =
        new Sessions(
            vertx,
            store,
            new InMemoryGenerationStore(vertx, 60_000),
            ConfigLoader.load((Path) null, Map.of()).sessions());
    FanOut fanOut = new FanOut(vertx, ConfigLoader.load((Path) null, Map.of()).viewer());
    String id = await(sessions.create("default", "", "mock", "", 0)).id();
    RecordingOutput<SessionEvent> output = new RecordingOutput<>();
    vertx
        .getOrCreateContext()
        .runOnContext(
            v -> new Viewer<>(fanOut, new SessionSource(id, sessions), 0, false, output).start());
    // Its join read is held: the viewer is catching up when the deletion comes.
    await(
        store.ops.when(ops -> ops.stream().anyMatch(op -> op instanceof SessionOps.ReadAfter)), 10);

    assertEquals(true, await(sessions.delete(id)));
    assertEquals(List.of("end"), await(output.endings.whenCount(1), 5));
    assertEquals(
        List.of("deleted"), output.events.items().stream().map(SessionEvent::type).toList());
    assertEquals(null, await(sessions.view(id)));
    assertEquals(false, await(sessions.delete(id)));
    store.release();
  }
}
