package io.tokenbus.cluster;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import io.tokenbus.bus.Creator;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.config.ConfigLoader;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.StaleEpochException;
import io.tokenbus.support.TestCluster;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The replicated log on a real Hazelcast member: fencing by epoch, release, takeover. */
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
}
