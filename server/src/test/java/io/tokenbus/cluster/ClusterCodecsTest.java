package io.tokenbus.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.hazelcast.config.ClassFilter;
import com.hazelcast.config.JavaSerializationFilterConfig;
import com.hazelcast.config.SerializationConfig;
import com.hazelcast.internal.serialization.Data;
import com.hazelcast.internal.serialization.SerializationService;
import com.hazelcast.internal.serialization.impl.DefaultSerializationServiceBuilder;
import com.hazelcast.map.EntryProcessor;
import io.tokenbus.bus.ClusterCodec;
import io.tokenbus.bus.Creator;
import io.tokenbus.bus.EventType;
import io.tokenbus.bus.Failure;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.bus.SessionLink;
import io.tokenbus.bus.Usage;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.GenerationQuery;
import io.tokenbus.generation.GenerationStatus;
import io.tokenbus.generation.GenerationSummary;
import io.tokenbus.generation.Progress;
import io.tokenbus.limits.TenantUsage;
import io.tokenbus.session.SessionQuery;
import io.tokenbus.session.SessionSamples;
import io.vertx.core.json.JsonObject;
import java.io.Serializable;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.lang.reflect.RecordComponent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Every type tokenbus puts into Hazelcast has its own codec: it survives a round trip through a
 * serialization service configured as a member's, and never falls back to Java serialization.
 */
@DisplayName("ClusterCodecs")
class ClusterCodecsTest {

  /**
   * A member's serialization, except that Java deserialization is refused for every class: a value
   * that, anywhere inside, still went through it fails to read.
   */
  private final SerializationService serialization =
      new DefaultSerializationServiceBuilder()
          .setConfig(
              HazelcastConfigs.serialization(new SerializationConfig())
                  .setJavaSerializationFilterConfig(
                      new JavaSerializationFilterConfig()
                          .setDefaultsDisabled(true)
                          .setWhitelist(new ClassFilter().addClasses("no.such.Class"))))
          .build();

  private static final Failure FAILURE = new Failure(429, "rate_limit_error", "queue_full", "é");

  /** One of every event type, and a few with nulls where they are allowed. */
  private static List<GenerationEvent> everyEvent(long from) {
    List<GenerationEvent> events =
        new ArrayList<>(
            List.of(
                GenerationEvent.delta(from, "hel"),
                GenerationEvent.delta(from + 1, "lo", "{\"logprobs\":null}"),
                GenerationEvent.toolCall(from + 2, "{\"tool_calls\":[]}"),
                GenerationEvent.recovery(from + 3, "retry", FAILURE, "{\"attempt\":1}"),
                GenerationEvent.reset(from + 4, FAILURE),
                GenerationEvent.cancelled(from + 5, null),
                GenerationEvent.error(from + 6, FAILURE, Usage.of(1, 2)),
                GenerationEvent.done(from + 7, "stop", Usage.of(3, 4))));
    Set<EventType> types = events.stream().map(GenerationEvent::type).collect(Collectors.toSet());
    assertEquals(Set.of(EventType.values()), types, "a sample of every event type");
    return events;
  }

  private static StoredGeneration generation() {
    StoredGeneration g =
        new StoredGeneration(
            new GenerationInfo(
                "chatcmpl-1",
                "mock",
                1700,
                new GenerationRequest(
                    "mock",
                    new JsonObject().put("model", "mock").put("messages", List.of("ü")),
                    10,
                    12.5,
                    new SessionLink("sess_1", "m1", "chatcmpl-1"),
                    new Creator("acme", "key:acme"),
                    Map.of("team", "a", "ticket", "ü-42")),
                "node-a",
                3));
    g.releasedBy = "node-b";
    for (int i = 0; i < 2000; i++) {
      g.events.add(GenerationEvent.delta(i + 1, "token " + i));
    }
    g.events.addAll(everyEvent(2001));
    g.ended = true;
    return g;
  }

  private static StoredGeneration bare() {
    return new StoredGeneration(
        new GenerationInfo(
            "chatcmpl-2",
            "mock",
            1,
            new GenerationRequest("mock", new JsonObject(), null, null, null, null),
            null,
            0));
  }

  private static List<Object> samples() {
    TenantUsage usage = new TenantUsage();
    for (int i = 0; i < 200; i++) {
      usage.admit("chatcmpl-" + i, 1_000_000 + i, 0, 0, 60_000);
    }
    usage.request(1_000_500, 60);
    usage.end("chatcmpl-3", 1_000_600, 77);
    HazelcastSessionStore.TenantSessions tenantSessions =
        new HazelcastSessionStore.TenantSessions("acme");
    tenantSessions.count = 4;
    HazelcastSessionStore.SessionBytes sessionBytes = new HazelcastSessionStore.SessionBytes();
    sessionBytes.byTenant.put("acme", 1234L);
    sessionBytes.byTenant.put("globex", 5L);
    LogProcessors.GenerationInfoData info = new LogProcessors.GenerationInfoData(generation());
    LogProcessors.GenerationInfoData bareInfo = new LogProcessors.GenerationInfoData(bare());
    Progress progress = new Progress(9, 4, "text so far", true, false);

    List<Object> samples = new ArrayList<>(SessionSamples.all());
    samples.addAll(everyEvent(1));
    samples.addAll(
        List.of(
            Usage.of(1, 2),
            FAILURE,
            new Failure(500, null, null, null),
            Creator.ANONYMOUS,
            new SessionLink("s", "m", "g"),
            new SessionLink(null, null, null),
            usage,
            new TenantUsage(),
            new TenantUsage.RequestCount(false, 60, 0, 1000, 500, 77),
            new TenantUsage.Admission(TenantUsage.Admission.CONCURRENCY, 200, 77),
            progress,
            generation(),
            bare(),
            new LogProcessors.Create(generation()),
            new LogProcessors.Appended(LogProcessors.APPENDED, true, 4096, "acme"),
            LogProcessors.Appended.UNKNOWN_GENERATION,
            new LogProcessors.Append(7, new ArrayList<>(everyEvent(1)), 3660),
            new LogProcessors.Evict(),
            new LogProcessors.Release(7, "node-a"),
            new LogProcessors.Orphans(new HashSet<>(Set.of("node-a", "node-b"))),
            new LogProcessors.Takeover(new HashSet<>(), "node-c"),
            info,
            bareInfo,
            new LogProcessors.TakeoverData(info, progress),
            new LogProcessors.Info(),
            new LogProcessors.ReadAfter(42),
            new LogProcessors.Snapshot(),
            new LogProcessors.SnapshotData(
                info,
                "hello",
                9,
                8,
                GenerationEvent.done(9, "stop", Usage.of(1, 1)),
                2,
                GenerationEvent.recovery(5, "restart", FAILURE, null)),
            new LogProcessors.SnapshotData(bareInfo, "", 0, 0, null, 0, null),
            new GenerationSummary(
                "chatcmpl-1",
                "mock",
                1700,
                "acme",
                "node-a",
                GenerationStatus.CANCELLED,
                Map.of("team", "a")),
            new GenerationSummary(
                "chatcmpl-2", "mock", 1, null, null, GenerationStatus.RUNNING, null),
            new LogProcessors.Listed(
                new GenerationQuery(
                    "acme",
                    GenerationStatus.RUNNING,
                    "mock",
                    Map.of("team", "a", "desk", "é"),
                    20,
                    new GenerationQuery.Cursor(1700, "chatcmpl-1"))),
            new LogProcessors.Listed(new GenerationQuery(null, null, null, null, 1, null)),
            new LogProcessors.Summarize(),
            new HazelcastSessionStore.Run<>(SessionSamples.op(), 3600, 600),
            new HazelcastSessionStore.Ran<>(SessionSamples.result(), -96, "acme"),
            tenantSessions,
            sessionBytes,
            new HazelcastSessionStore.Listed(
                new SessionQuery("acme", new SessionQuery.Cursor(1700, "sess_1"), 20)),
            new HazelcastSessionStore.Listed(new SessionQuery(null, null, 1)),
            new HazelcastSessionStore.Summarize(),
            new HazelcastSessionStore.Remove(),
            new HazelcastSessionStore.Ran<>(null, -512, "acme"),
            new HazelcastUsageCounters.Request(1_000_000, 60, 7),
            new HazelcastUsageCounters.Admit("chatcmpl-1", 1_000_000, 4, 5000, 60_000),
            new HazelcastUsageCounters.End("chatcmpl-1", 1_000_000, 12),
            new HazelcastUsageCounters.Seed(1_000_000, 420)));
    return samples;
  }

  @Test
  @DisplayName(
      "every registered type, fully populated, reads back equal, under its own type id, with no Java serialization inside")
  void roundTrips() {
    Map<Class<?>, Integer> ids =
        ClusterCodecs.all().stream()
            .collect(Collectors.toMap(ClusterCodec::type, ClusterCodec::getTypeId));
    Set<Class<?>> sampled = new HashSet<>();
    for (Object sample : samples()) {
      Data data = serialization.toData(sample);
      Integer id = ids.get(sample.getClass());
      assertNotNull(id, sample.getClass() + " has no codec");
      assertEquals(id, data.getType(), sample.getClass() + " is written by its codec");
      Object read = serialization.toObject(data);
      assertDeepEquals(sample, read, sample.getClass().getSimpleName());
      // And written again, the same bytes: nothing is lost or reordered.
      assertEquals(data, serialization.toData(read), sample.getClass().getSimpleName());
      sampled.add(sample.getClass());
    }
    Set<Class<?>> unsampled = new HashSet<>(ids.keySet());
    unsampled.removeAll(sampled);
    assertEquals(Set.of(), unsampled, "registered types without a sample");
  }

  @Test
  @DisplayName(
      "every class of io.tokenbus that Hazelcast could Java-serialize (Serializable, an entry processor) has a codec")
  void everySerializableClassHasACodec() throws Exception {
    Set<Class<?>> registered =
        ClusterCodecs.all().stream().map(ClusterCodec::type).collect(Collectors.toSet());
    Path classes =
        Path.of(HazelcastConfigs.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    List<String> missing = new ArrayList<>();
    int checked = 0;
    try (Stream<Path> files = Files.walk(classes.resolve("io/tokenbus"))) {
      for (Path file : (Iterable<Path>) files::iterator) {
        String name = classes.relativize(file).toString();
        if (!name.endsWith(".class")) {
          continue;
        }
        Class<?> type =
            Class.forName(
                name.substring(0, name.length() - ".class".length()).replace('/', '.'),
                false,
                getClass().getClassLoader());
        if (!(Serializable.class.isAssignableFrom(type)
                || EntryProcessor.class.isAssignableFrom(type))
            || type.isInterface()
            || Modifier.isAbstract(type.getModifiers())
            // Never written on their own: codecs write an enum's ordinal.
            || type.isEnum()
            // What a remote call fails with travels as Java serialization, behind the filter.
            || Throwable.class.isAssignableFrom(type)) {
          continue;
        }
        checked++;
        if (!registered.contains(type)) {
          missing.add(type.getName());
        }
      }
    }
    assertTrue(checked > 40, "found the classes: " + checked);
    assertEquals(List.of(), missing, "classes without a codec (add one to ClusterCodecs)");
  }

  /**
   * Equal field by field, or component by component, down to the JDK's values: the mutable stored
   * types have no {@code equals}, and a record's would compare them by identity.
   */
  private static void assertDeepEquals(Object expected, Object actual, String path) {
    if (expected == null || actual == null) {
      assertEquals(expected, actual, path);
      return;
    }
    if (expected instanceof ArrayDeque<?> deque) {
      expected = new ArrayList<>(deque);
      actual = new ArrayList<>((ArrayDeque<?>) actual);
    }
    if (expected instanceof List<?> list) {
      assertTrue(actual instanceof List<?>, path + " is a list");
      assertIterablesEqual(list, (List<?>) actual, path);
      return;
    }
    if (expected instanceof Map<?, ?> map) {
      assertTrue(actual instanceof Map<?, ?>, path + " is a map");
      assertEquals(map.getClass(), actual.getClass(), path);
      assertIterablesEqual(map.entrySet(), ((Map<?, ?>) actual).entrySet(), path);
      return;
    }
    if (expected instanceof Map.Entry<?, ?> entry) {
      assertDeepEquals(entry.getKey(), ((Map.Entry<?, ?>) actual).getKey(), path + ".key");
      assertDeepEquals(entry.getValue(), ((Map.Entry<?, ?>) actual).getValue(), path + ".value");
      return;
    }
    assertEquals(expected.getClass(), actual.getClass(), path);
    Class<?> type = expected.getClass();
    if (!type.getName().startsWith("io.tokenbus.")) {
      assertEquals(expected, actual, path);
      return;
    }
    try {
      if (type.isRecord()) {
        for (RecordComponent component : type.getRecordComponents()) {
          component.getAccessor().setAccessible(true);
          assertDeepEquals(
              component.getAccessor().invoke(expected),
              component.getAccessor().invoke(actual),
              path + "." + component.getName());
        }
        return;
      }
      for (Field field : type.getDeclaredFields()) {
        if (Modifier.isStatic(field.getModifiers()) || Modifier.isTransient(field.getModifiers())) {
          continue;
        }
        field.setAccessible(true);
        assertDeepEquals(field.get(expected), field.get(actual), path + "." + field.getName());
      }
    } catch (ReflectiveOperationException e) {
      fail(path + ": " + e);
    }
  }

  private static void assertIterablesEqual(
      Collection<?> expected, Collection<?> actual, String path) {
    assertEquals(expected.size(), actual.size(), path + " size");
    Iterator<?> a = actual.iterator();
    int i = 0;
    for (Object e : expected) {
      assertDeepEquals(e, a.next(), path + "[" + i++ + "]");
    }
  }
}
