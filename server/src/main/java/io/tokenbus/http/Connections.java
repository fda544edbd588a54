package io.tokenbus.http;

import io.netty.channel.Channel;
import io.tokenbus.config.TokenbusConfig;
import java.lang.management.ManagementFactory;
import java.util.Deque;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The node's open connections, shared by every HTTP verticle: at most {@code http.max-connections}
 * in all and {@code http.max-connections-per-address} from one address, plus a small reserve that
 * may only ask for {@code /health}, so a full node still tells its orchestrator it is alive. When
 * the reserve is full too, a new connection takes the place of the oldest reserve connection whose
 * request head has not arrived: a probe sends its head at once, a connection holding the reserve by
 * dribbling one does not. Counts per address are removed at zero, so the map holds only addresses
 * with open connections.
 */
public final class Connections {

  /** What a new connection may do. */
  public enum Admission {
    /** Served like any other. */
    ADMITTED,
    /**
     * Over a limit, taken from the reserve: one request, which must be for {@code /health};
     * register it with {@link #reserved}.
     */
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

  /** Reserve connections, oldest first, each with whether its request head has arrived. */
  private final Deque<Reserved> reserveQueue = new ConcurrentLinkedDeque<>();

  private record Reserved(Channel channel, AtomicBoolean headIn) {}

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
    if (evictHeadless()) {
      reserved.incrementAndGet(); // the evicted one gives its slot back as it closes
      return Admission.HEALTH_ONLY;
    }
    return Admission.REFUSED;
  }

  /**
   * Registers a connection admitted {@link Admission#HEALTH_ONLY}; {@code headIn} is set once its
   * request head arrived. It leaves the queue when it closes.
   */
  void reserved(Channel channel, AtomicBoolean headIn) {
    Reserved entry = new Reserved(channel, headIn);
    reserveQueue.addLast(entry);
    channel.closeFuture().addListener(closed -> reserveQueue.remove(entry));
  }

  /** Closes the oldest reserve connection still without a request head; false if none. */
  private boolean evictHeadless() {
    for (Reserved entry : reserveQueue) {
      if (!entry.headIn().get() && reserveQueue.remove(entry)) {
        entry.channel().close();
        return true;
      }
    }
    return false;
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
