package io.tokenbus.cluster;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.internal.serialization.impl.HeapData;
import com.hazelcast.map.IMap;
import com.hazelcast.nio.serialization.HazelcastSerializationException;
import io.tokenbus.bus.Creator;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.config.ConfigLoader;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.GenerationQuery;
import io.tokenbus.generation.GenerationStatus;
import io.tokenbus.generation.GenerationSummary;
import io.tokenbus.support.TestCluster;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A value that is not what tokenbus wrote, put through the raw map: refused, or read as absent,
 * never a failure the API would answer with a 500.
 */
@ExtendWith(VertxExtension.class)
@DisplayName("An unreadable entry")
class UnreadableEntriesTest {

  private HazelcastInstance hazelcast;

  @BeforeEach
  void setUp() {
    hazelcast =
        Hazelcast.newHazelcastInstance(
            HazelcastConfigs.build(
                ConfigLoader.load((Path) null, new TestCluster(1).env(0)).cluster()));
  }

  @AfterEach
  void tearDown() {
    hazelcast.shutdown();
  }

  /**
   * Serialized data as Hazelcast frames it (partition hash, type id, payload): here a codec's type
   * id with a payload it cannot read, or a type id nobody registered.
   */
  private static HeapData garbage(int typeId, byte[] payload) {
    return new HeapData(
        ByteBuffer.allocate(8 + payload.length).putInt(0).putInt(typeId).put(payload).array());
  }

  private static List<HeapData> garbage() {
    return List.of(
        garbage(ClusterCodecs.STORED_GENERATION.getTypeId(), new byte[] {0, 0, 0, 9, 'x'}),
        garbage(ClusterCodecs.STORED_GENERATION.getTypeId(), new byte[] {-1, -1, -1, -1, -1}),
        garbage(4242, new byte[] {1, 2, 3}));
  }

  @Test
  @DisplayName(
      "malformed data for a map kept as objects is refused at the put; its key reads as absent")
  void refusedWhereKeptAsObjects(Vertx vertx) {
    HazelcastGenerationStore store = new HazelcastGenerationStore(vertx, hazelcast, 60, "node-a");
    HazelcastUsageCounters limits = new HazelcastUsageCounters(vertx, hazelcast);
    IMap<String, Object> generations = hazelcast.getMap(HazelcastGenerationStore.MAP);
    IMap<String, Object> usage = hazelcast.getMap(HazelcastUsageCounters.MAP);
    for (HeapData data : garbage()) {
      assertThrows(
          HazelcastSerializationException.class, () -> generations.put("chatcmpl-g", data));
      assertThrows(HazelcastSerializationException.class, () -> usage.put("acme", data));
      assertFalse(generations.containsKey("chatcmpl-g"));
      assertNull(await(store.info("chatcmpl-g")));
      assertNull(await(store.snapshot("chatcmpl-g")));
      assertEquals(
          1, await(limits.admit("acme", "chatcmpl-1", 1_000, 4, 0, 60_000)).running(), "counts");
    }
  }

  @Test
  @DisplayName(
      "malformed data in a map kept serialized fails where a processor reads it, and reads as absent")
  void absentWhereKeptSerialized(Vertx vertx) {
    // Not one of tokenbus's maps: the default in-memory format, BINARY, stores what it is given.
    ProcessedMap<StoredGeneration> entries =
        new ProcessedMap<>(vertx, hazelcast, "tokenbus.test.binary");
    IMap<String, Object> raw = hazelcast.getMap("tokenbus.test.binary");
    int i = 0;
    for (HeapData data : garbage()) {
      String key = "chatcmpl-g" + i++;
      raw.put(key, data);
      assertNull(await(entries.run(key, new LogProcessors.Info(), null)), key);
      assertEquals(
          false, await(entries.run(key, new LogProcessors.Evict(), false)), key + " evicted");
    }
  }

  @Test
  @DisplayName("a value of another type in the generations map is skipped by a listing, not fatal")
  void skippedByListings(Vertx vertx) {
    HazelcastGenerationStore store = new HazelcastGenerationStore(vertx, hazelcast, 60, "node-a");
    IMap<String, Object> generations = hazelcast.getMap(HazelcastGenerationStore.MAP);
    generations.put("chatcmpl-foreign", "not a generation");
    GenerationRequest request =
        new GenerationRequest(
            "mock",
            new JsonObject().put("model", "mock"),
            null,
            null,
            null,
            new Creator("acme", "acme#1"),
            Map.of("team", "a"));
    await(store.create(new GenerationInfo("chatcmpl-real", "mock", 1700, request, "node-a", 1)));
    List<GenerationSummary> listed =
        await(store.list(new GenerationQuery(null, null, null, null, 20, null)));
    assertEquals(
        List.of(
            new GenerationSummary(
                "chatcmpl-real",
                "mock",
                1700,
                "acme",
                "node-a",
                GenerationStatus.RUNNING,
                Map.of("team", "a"))),
        listed);
  }
}
