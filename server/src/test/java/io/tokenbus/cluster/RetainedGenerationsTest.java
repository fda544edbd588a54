package io.tokenbus.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** A node's count of the generations it finished: what it evicts, expires and remembers. */
@DisplayName("RetainedGenerations")
class RetainedGenerationsTest {

  private static List<String> ids(List<RetainedGenerations.Finished> finished) {
    return finished.stream().map(RetainedGenerations.Finished::id).toList();
  }

  @Test
  @DisplayName("past either bound the oldest are evicted, never the one just finished")
  void evictsOldestFirst() {
    RetainedGenerations retained = new RetainedGenerations(2, 1000);
    assertEquals(List.of(), ids(retained.add("a", "t", 100, 0).evicted()));
    assertEquals(List.of(), ids(retained.add("b", "t", 100, 0).evicted()));
    assertEquals(List.of("a"), ids(retained.add("c", "t", 100, 0).evicted()), "by count");
    assertEquals(List.of("b", "c"), ids(retained.add("d", "t", 950, 0).evicted()), "by bytes");
    assertEquals(List.of("d"), ids(retained.add("e", "t", 5000, 0).evicted()));
    assertEquals(1, retained.size(), "one over the byte bound alone is kept");
    assertEquals(5000, retained.bytes());
  }

  @Test
  @DisplayName("a retried append is counted once")
  void countsOnce() {
    RetainedGenerations retained = new RetainedGenerations(10, 10_000);
    RetainedGenerations.Added first = retained.add("a", "t", 100, 0);
    RetainedGenerations.Added again = retained.add("a", "t", 100, 0);
    assertEquals(first.finished(), again.finished());
    assertEquals(1, retained.size());
    assertEquals(100, retained.bytes());
  }

  @Test
  @DisplayName("a sweep expires every one counted before its cutoff, oldest first")
  void expiresUpTo() {
    RetainedGenerations retained = new RetainedGenerations(10, 10_000);
    retained.add("a", "t", 1, 10);
    retained.add("b", "t", 1, 20);
    retained.add("c", "t", 1, 30);
    assertEquals(List.of(), ids(retained.expireBefore(9)));
    assertEquals(List.of("a", "b"), ids(retained.expireBefore(20)));
    assertEquals(List.of(), ids(retained.expireBefore(20)));
    assertEquals(1, retained.size());
  }

  @Test
  @DisplayName("tombstones are remembered within the count; the oldest is given up")
  void remembersWithinTheCount() {
    RetainedGenerations retained = new RetainedGenerations(2, 10_000);
    assertNull(retained.remember("a"));
    assertNull(retained.remember("b"));
    assertEquals("a", retained.remember("c"));
  }
}
