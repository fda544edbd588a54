package io.tokenbus.cluster;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import io.tokenbus.bus.Creator;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.config.ConfigLoader;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.StaleEpochException;
import io.tokenbus.support.Poll;
import io.tokenbus.support.TestCluster;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The replicated log on a real Hazelcast member: fencing by epoch, release, takeover, and the
 * bounds on what finished generations keep.
 */
@ExtendWith(VertxExtension.class)
@DisplayName("HazelcastGenerationStore")
class HazelcastGenerationStoreTest {

  private HazelcastInstance hazelcast;
  private HazelcastGenerationStore nodeA;
  private HazelcastGenerationStore nodeB;
  private final GenerationInfo info =
      new GenerationInfo(
          "chatcmpl-fence",
          "mock",
          1,
          new GenerationRequest(
              "mock", new JsonObject().put("model", "mock"), 10, null, Creator.ANONYMOUS),
          "node-a",
          1);

  @BeforeEach
  void setUp(Vertx vertx) {
    TestCluster ports = new TestCluster(1);
    hazelcast =
        Hazelcast.newHazelcastInstance(
            HazelcastConfigs.build(ConfigLoader.load((Path) null, ports.env(0)).cluster()));
    nodeA = new HazelcastGenerationStore(vertx, hazelcast, 60, "node-a");
    nodeB = new HazelcastGenerationStore(vertx, hazelcast, 60, "node-b");
    await(nodeA.create(info));
  }

  @AfterEach
  void tearDown() {
    hazelcast.shutdown();
  }

  @Test
  @DisplayName(
      "once ownership moves, the former owner's appends are refused and the log is untouched")
  void staleOwnerIsFenced() {
    await(
        nodeA.append(
            info.id(), 1, List.of(GenerationEvent.delta(1, "a"), GenerationEvent.delta(2, "b"))));
    // Only a generation whose owner is not among the live nodes is an orphan.
    assertNull(
        await(nodeB.takeover(info.id(), Set.of("node-a", "node-b"))),
        "a live owner keeps its generation");
    var resume = await(nodeB.takeover(info.id(), Set.of("node-b")));
    assertEquals(2, resume.progress().lastSeq());
    assertEquals("ab", resume.progress().text());
    assertEquals(2, resume.info().epoch());
    assertEquals("node-b", resume.info().owner());

    assertInstanceOf(
        StaleEpochException.class,
        await(
            nodeA
                .append(info.id(), 1, List.of(GenerationEvent.delta(3, "late")))
                .map(v -> (Throwable) null)
                .recover(Future::succeededFuture)));
    await(
        nodeB.append(
            info.id(),
            2,
            List.of(GenerationEvent.delta(3, "c"), GenerationEvent.done(4, "stop", null))));
    assertEquals("abc", await(nodeB.snapshot(info.id())).text());
    assertEquals(4, await(nodeA.readAfter(info.id(), 0)).size(), "nothing of the stale writer's");
  }

  @Test
  @DisplayName(
      "a retried append that was already applied counts as written; other content at those seqs is refused")
  void appendIsIdempotent() {
    List<GenerationEvent> batch =
        List.of(GenerationEvent.delta(1, "a"), GenerationEvent.delta(2, "b"));
    await(nodeA.append(info.id(), 1, batch));
    await(nodeA.append(info.id(), 1, batch));
    assertInstanceOf(
        IllegalStateException.class,
        await(
            nodeA
                .append(info.id(), 1, List.of(GenerationEvent.delta(2, "x")))
                .map(v -> (Throwable) null)
                .recover(Future::succeededFuture)));
    assertEquals(2, await(nodeA.readAfter(info.id(), 0)).size());
  }

  @Test
  @DisplayName(
      "a released generation is taken over by another node, never by the one that released it")
  void releaseHandsOver() {
    await(nodeA.append(info.id(), 1, List.of(GenerationEvent.delta(1, "a"))));
    await(nodeA.release(info.id(), 1));
    assertNull(
        await(nodeA.takeover(info.id(), Set.of("node-a", "node-b"))),
        "the releasing node does not take it back");
    var resume = await(nodeB.takeover(info.id(), Set.of("node-a", "node-b")));
    assertEquals(3, resume.info().epoch(), "release and takeover each bump the epoch");
    assertInstanceOf(
        StaleEpochException.class,
        await(
            nodeA
                .append(info.id(), 1, List.of(GenerationEvent.delta(2, "x")))
                .map(v -> (Throwable) null)
                .recover(Future::succeededFuture)));
    assertEquals(
        Set.of(),
        nodeB.localOrphans(Set.of("node-a", "node-b")),
        "owned again: no longer an orphan");
  }

  private static GenerationInfo generation(String id, JsonObject body) {
    return new GenerationInfo(
        id,
        "mock",
        1,
        new GenerationRequest("mock", body, 10, null, new Creator("acme", "acme#1")),
        "node-a",
        1);
  }

  @Test
  @DisplayName(
      "past max-retained the node's oldest finished generation is removed and leaves a tombstone;"
          + " a running one is never counted nor removed")
  void boundedByCount(Vertx vertx) {
    HazelcastGenerationStore store =
        new HazelcastGenerationStore(vertx, hazelcast, 60, 2, Long.MAX_VALUE, "node-a");
    JsonObject body = new JsonObject().put("model", "mock");
    await(store.create(generation("running", body)));
    await(store.append("running", 1, List.of(GenerationEvent.delta(1, "a"))));
    for (String id : List.of("g1", "g2", "g3")) {
      await(store.create(generation(id, body)));
      await(store.append(id, 1, List.of(GenerationEvent.done(1, "stop", null))));
    }
    await(Poll.until(vertx, () -> store.info("g1"), Objects::isNull, 5000));
    assertEquals("acme", await(nodeB.gone("g1")), "the tombstone is there for every node");
    assertNull(await(store.gone("g2")));
    assertNotNull(await(store.info("g2")));
    assertNotNull(await(store.info("g3")));
    assertNotNull(await(store.info("running")));
    assertNull(await(store.gone("running")));
    assertEquals(2, store.retainedCount());
  }

  @Test
  @DisplayName("past max-retained-bytes the oldest finished generation is removed")
  void boundedByBytes(Vertx vertx) {
    // Each log below counts 512 + (96 + 2 × 300) + 96 = 1304 bytes: one fits in 2000, two do not.
    HazelcastGenerationStore store =
        new HazelcastGenerationStore(vertx, hazelcast, 60, 100, 2000, "node-a");
    JsonObject body = new JsonObject().put("model", "mock");
    for (String id : List.of("b1", "b2")) {
      await(store.create(generation(id, body)));
      await(
          store.append(
              id,
              1,
              List.of(
                  GenerationEvent.delta(1, "x".repeat(300)),
                  GenerationEvent.done(2, "stop", null))));
    }
    await(Poll.until(vertx, () -> store.gone("b1"), "acme"::equals, 5000));
    assertNull(await(store.info("b1")));
    assertNotNull(await(store.info("b2")));
    assertEquals(1304, store.retainedBytes());
  }

  @Test
  @DisplayName("a finished generation keeps no prompt in the replicated map, on its backup neither")
  void noPromptOnceFinished(Vertx vertx) {
    JsonObject body =
        new JsonObject()
            .put("model", "mock")
            .put(
                "messages",
                new JsonArray()
                    .add(new JsonObject().put("role", "user").put("content", "x".repeat(100_000))));
    await(nodeA.create(generation("prompted", body)));
    assertEquals(body, await(nodeA.info("prompted")).request().body(), "kept while it runs");
    await(nodeA.append("prompted", 1, List.of(GenerationEvent.done(1, "stop", null))));
    GenerationInfo after = await(nodeB.info("prompted"));
    assertEquals(new JsonObject().put("model", "mock"), after.request().body());
    assertEquals("acme", after.request().creator().tenant());
    assertEquals(10, after.request().maxTokens());
  }

  @Test
  @DisplayName("after its retention a finished generation is removed and reads as gone")
  void expiresWithTombstone(Vertx vertx) {
    HazelcastGenerationStore store =
        new HazelcastGenerationStore(vertx, hazelcast, 1, 100, Long.MAX_VALUE, "node-a");
    await(store.create(generation("short", new JsonObject().put("model", "mock"))));
    await(store.append("short", 1, List.of(GenerationEvent.done(1, "stop", null))));
    await(Poll.until(vertx, () -> store.gone("short"), "acme"::equals, 10_000));
    assertNull(await(store.info("short")));
    assertEquals(0, store.retainedCount());
  }
}
