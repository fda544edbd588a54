package io.tokenbus.http;

import io.tokenbus.config.TokenbusConfig;
import java.lang.management.ManagementFactory;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The node's open connections, shared by every HTTP verticle: at most {@code http.max-connections}
 * in all and {@code http.max-connections-per-address} from one address, plus a small reserve that
 * may only ask for {@code /health}, so a full node still tells its orchestrator it is alive. Counts
 * per address are removed at zero, so the map holds only addresses with open connections.
 */
public final class Connections {

  /** What a new connection may do. */
  public enum Admission {
    /** Served like any other. */
    ADMITTED,
    /** Over a limit, taken from the reserve: one request, which must be for {@code /health}. */
    HEALTH_ONLY,
    /** Over every limit: closed at once. */
    REFUSED
  }

  /** Used when the open-file limit cannot be read (not a Unix JVM). */
  private static final int FALLBACK_MAX = 10_000;

  private final int max;
  private final int maxPerAddress;
  private final int reserve;
  private final AtomicInteger open = new AtomicInteger();
  private final AtomicInteger reserved = new AtomicInteger();
  private final Map<String, Integer> perAddress = new ConcurrentHashMap<>();

  Connections(int max, int maxPerAddress, int reserve) {
    this.max = max;
    this.maxPerAddress = maxPerAddress;
    this.reserve = reserve;
  }

  /** The limits of {@code http}; {@code max-connections: 0} becomes 90% of the open-file limit. */
  public static Connections of(TokenbusConfig.Http http) {
    int max = http.maxConnections() > 0 ? http.maxConnections() : fromFileLimit();
    return new Connections(max, http.maxConnectionsPerAddress(), http.healthReserveConnections());
  }

  private static int fromFileLimit() {
    if (ManagementFactory.getOperatingSystemMXBean()
        instanceof com.sun.management.UnixOperatingSystemMXBean unix) {
      long files = unix.getMaxFileDescriptorCount();
      if (files > 0) {
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, files * 9 / 10));
      }
    }
    return FALLBACK_MAX;
  }

  /** The node's limit in effect. */
  public int max() {
    return max;
  }

  /** Connections admitted and open (the health reserve not included). */
  public int open() {
    return open.get();
  }

  /** Counts a new connection from {@code address}; {@link #release} it when it closes. */
  Admission admit(String address) {
    if (open.incrementAndGet() <= max) {
      if (maxPerAddress <= 0 || takePerAddress(address)) {
        return Admission.ADMITTED;
      }
    }
    open.decrementAndGet();
    if (reserved.incrementAndGet() <= reserve) {
      return Admission.HEALTH_ONLY;
    }
    reserved.decrementAndGet();
    return Admission.REFUSED;
  }

  /** Uncounts a connection {@link #admit} let in as {@code admission}. */
  void release(String address, Admission admission) {
    switch (admission) {
      case ADMITTED -> {
        open.decrementAndGet();
        if (maxPerAddress > 0) {
          perAddress.computeIfPresent(address, (a, n) -> n <= 1 ? null : n - 1);
        }
      }
      case HEALTH_ONLY -> reserved.decrementAndGet();
      case REFUSED -> {}
    }
  }

  private boolean takePerAddress(String address) {
    boolean[] taken = {false};
    perAddress.compute(
        address,
        (a, n) -> {
          int count = n == null ? 0 : n;
          if (count >= maxPerAddress) {
            return n;
          }
          taken[0] = true;
          return count + 1;
        });
    return taken[0];
  }
}
