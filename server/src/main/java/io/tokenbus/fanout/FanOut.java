package io.tokenbus.fanout;

import io.tokenbus.bus.StreamBatch;
import io.tokenbus.bus.StreamEvent;
import io.tokenbus.config.TokenbusConfig;
import io.tokenbus.metrics.Metrics;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.internal.ContextInternal;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's stream engine: for each stream (a generation, a chat session) with viewers on this node,
 * exactly one event-bus consumer of its address, however many viewers it has. Each batch is wrapped
 * once ({@link EncodedBatch}, encoded once per format) and handed to each event loop that holds
 * viewers of it: one hop per loop, not per connection, and batches that pile up while a loop is
 * busy are written as one. Membership changes are rare and take one lock; delivery takes none.
 * While a stream has viewers here, its source hears so ({@link StreamSource#watched}) at the first
 * join and then periodically (a generation's owner, for its idle-cancel policy).
 */
public final class FanOut {

  private static final Logger LOG = LoggerFactory.getLogger(FanOut.class);

  /**
   * In a cluster a new consumer takes a moment to reach the other nodes' view of the bus: what they
   * publish meanwhile does not arrive here. This long after a stream's consumer registered, its log
   * is read once for the node, so the last event of a quiet stream does not wait for the next one.
   */
  static final long JOIN_SETTLE_MS = 1500;

  private final Vertx vertx;
  private final TokenbusConfig.Viewer config;
  private final Map<String, Channel<?>> channels = new HashMap<>();
  private final Metrics metrics;

  public FanOut(Vertx vertx, TokenbusConfig.Viewer config) {
    this(vertx, config, 0, Metrics.none());
  }

  /**
   * @param watchedReportMs how often the sources of watched streams hear it (0: only at the first
   *     join); a generation's idle-cancel limit needs several reports within it
   */
  public FanOut(Vertx vertx, TokenbusConfig.Viewer config, long watchedReportMs, Metrics metrics) {
    this.vertx = vertx;
    this.config = config;
    this.metrics = metrics;
    if (watchedReportMs > 0) {
      vertx.setPeriodic(watchedReportMs, watchedReportMs, t -> reportWatched());
    }
  }

  private void reportWatched() {
    List<StreamSource<?>> watched = new ArrayList<>();
    synchronized (this) {
      channels.values().forEach(channel -> watched.add(channel.source));
    }
    watched.forEach(source -> source.watched(vertx.eventBus()));
  }

  TokenbusConfig.Viewer config() {
    return config;
  }

  Metrics metrics() {
    return metrics;
  }

  /** Viewers on this node of each stream that has some, by address. */
  public synchronized Map<String, Integer> viewersByAddress() {
    Map<String, Integer> counts = new HashMap<>();
    channels.forEach((address, channel) -> counts.put(address, channel.count));
    return counts;
  }

  /** Viewers on this node of the stream published on {@code address}. */
  public synchronized int viewers(String address) {
    Channel<?> channel = channels.get(address);
    return channel == null ? 0 : channel.count;
  }

  /**
   * Adds a viewer (on its event loop); the future completes, on any thread, once live batches reach
   * it. Returns the node's frame cache of the stream for its replays.
   */
  @SuppressWarnings("unchecked") // every viewer of one address watches the same kind of stream
  <E extends StreamEvent> Joined<E> join(Viewer<E> viewer) {
    boolean first;
    Joined<E> joined;
    StreamSource<E> source = viewer.source();
    synchronized (this) {
      first = !channels.containsKey(source.address());
      Channel<E> channel =
          (Channel<E>) channels.computeIfAbsent(source.address(), address -> new Channel<>(source));
      channel.add(viewer);
      joined = new Joined<>(channel.ready, channel.frames);
    }
    if (first) {
      source.watched(vertx.eventBus());
    }
    return joined;
  }

  record Joined<E extends StreamEvent>(Future<Void> ready, FrameCache<E> frames) {}

  /**
   * Has every live viewer on this node re-read the log after its cursor. Called when a cluster
   * member leaves: a batch it appended but never published (its last one, perhaps the terminal
   * event) would otherwise never reach viewers that are waiting for it.
   */
  public void resync() {
    List<LoopGroup<?>> groups = new ArrayList<>();
    synchronized (this) {
      channels.values().forEach(channel -> groups.addAll(channel.loops));
    }
    for (LoopGroup<?> group : groups) {
      group.context.runOnContext(v -> group.forEach(Viewer::resync));
    }
  }

  /** Event loops holding viewers of a stream on this node (for tests: one hop per loop). */
  synchronized int loops(String address) {
    Channel<?> channel = channels.get(address);
    return channel == null ? 0 : channel.loops.size();
  }

  /** The event-loop context itself: request handlers run on per-request duplicates of it. */
  static Context loopOf(Context context) {
    return ((ContextInternal) context).unwrap();
  }

  synchronized void leave(Viewer<?> viewer) {
    String address = viewer.source().address();
    Channel<?> channel = channels.get(address);
    if (channel != null && channel.remove(viewer) == 0) {
      channels.remove(address);
      channel.consumer.unregister();
    }
  }

  /** One stream's consumer on this node, and its viewers grouped by event loop. */
  private final class Channel<E extends StreamEvent> {
    final StreamSource<E> source;
    final FrameCache<E> frames;
    final MessageConsumer<StreamBatch<E>> consumer;
    final Future<Void> ready;
    final List<LoopGroup<E>> loops = new CopyOnWriteArrayList<>();

    /** Where the consumer's batches arrive; the settle read's answer is handled there too. */
    final Context context;

    int count;

    /**
     * The highest owner epoch seen: a batch from an older owner (paused, then fenced off) is
     * dropped.
     */
    long epoch;

    /** The last seq a batch brought; consumer context only. */
    long lastSeq;

    Channel(StreamSource<E> source) {
      this.source = source;
      frames = new FrameCache<>(source);
      context = vertx.getOrCreateContext();
      consumer = vertx.eventBus().consumer(source.address(), this::onBatch);
      ready = consumer.completion();
      if (vertx.isClustered()) {
        // On the consumer's context, where lastSeq is kept.
        ready.onSuccess(
            v -> vertx.setTimer(JOIN_SETTLE_MS, t -> context.runOnContext(x -> settle())));
      }
    }

    /**
     * Offers what the log has past the last batch seen: what other nodes published before they knew
     * of this consumer. At most the inbox's bound: viewers further behind see a gap and read the
     * rest themselves.
     */
    private void settle() {
      if (loops.isEmpty()) {
        return;
      }
      source
          .readAfter(lastSeq)
          .onComplete(
              ar ->
                  context.runOnContext(
                      v -> {
                        if (ar.failed()) {
                          LOG.debug(
                              "Stream {}: the settle read failed ({}); viewers mend gaps with the next batch",
                              source.id(),
                              ar.cause().getMessage());
                        } else if (ar.result() != null && !ar.result().isEmpty()) {
                          List<E> events = ar.result();
                          offer(
                              new ArrayList<>(
                                  events.subList(
                                      Math.max(0, events.size() - config.catchUpBufferEvents()),
                                      events.size())));
                        }
                      }));
    }

    void add(Viewer<E> viewer) {
      count++;
      for (LoopGroup<E> loop : loops) {
        if (loop.context == viewer.context()) {
          loop.add(viewer);
          return;
        }
      }
      LoopGroup<E> loop =
          new LoopGroup<>(
              viewer.context(),
              config.coalesceMaxDelayMs() * 1_000_000L,
              config.catchUpBufferEvents());
      loops.add(loop);
      loop.add(viewer);
    }

    int remove(Viewer<?> viewer) {
      for (LoopGroup<E> loop : loops) {
        if (loop.context == viewer.context() && loop.remove(viewer) && loop.isEmpty()) {
          loops.remove(loop);
        }
      }
      return --count;
    }

    void onBatch(Message<StreamBatch<E>> message) {
      if (message.body().epoch() < epoch) {
        return;
      }
      epoch = message.body().epoch();
      offer(message.body().events());
    }

    private void offer(List<E> events) {
      EncodedBatch<E> batch = new EncodedBatch<>(events, frames);
      if (!batch.passing()) {
        lastSeq = Math.max(lastSeq, batch.lastSeq());
      }
      for (LoopGroup<E> loop : loops) {
        loop.offer(batch);
      }
    }
  }

  /**
   * The viewers of one stream on one event loop; touched only from that loop, except {@link
   * #offer}. Removal during delivery (a viewer that just wrote its terminal event) is deferred
   * until the loop is done.
   *
   * <p>Coalescing: batches are queued in an inbox and written by a pass on the loop, which takes
   * everything queued by then and writes each viewer one buffer for all of it. A pass that took T
   * is followed by a pause of 3T, capped at {@code viewer.coalesce-max-delay-ms}: a few hundred
   * viewers (T in microseconds) get each batch at once, while thousands (each write a system call)
   * get several per write, so the cost per token falls as load rises instead of the loop falling
   * behind. The inbox holds what arrives during one pass and one pause; it is bounded by {@code
   * viewer.catch-up-buffer-events} all the same (a loop held up by something else): past it,
   * batches are dropped and the next pass has every viewer read the log after its cursor instead.
   */
  private static final class LoopGroup<E extends StreamEvent> {
    final Context context;
    final ArrayList<Viewer<E>> viewers = new ArrayList<>();
    final Queue<EncodedBatch<E>> inbox = new ConcurrentLinkedQueue<>();
    final AtomicBoolean scheduled = new AtomicBoolean();
    final List<EncodedBatch<E>> run = new ArrayList<>();
    final long maxPauseNanos;
    final int maxQueuedEvents;

    /**
     * Events in the inbox; past {@link #maxQueuedEvents} batches are dropped and {@link
     * #overflowed} set.
     */
    final AtomicInteger queuedEvents = new AtomicInteger();

    final AtomicBoolean overflowed = new AtomicBoolean();

    /** When the next pass may start (System.nanoTime()); loop only. */
    long nextPass;

    int live;
    boolean delivering;
    boolean dirty;

    LoopGroup(Context context, long maxPauseNanos, int maxQueuedEvents) {
      this.context = context;
      this.maxPauseNanos = maxPauseNanos;
      this.maxQueuedEvents = maxQueuedEvents;
    }

    /** Queues a batch for this loop's viewers; any thread. */
    void offer(EncodedBatch<E> batch) {
      if (queuedEvents.addAndGet(batch.size()) > maxQueuedEvents) {
        queuedEvents.addAndGet(-batch.size());
        overflowed.set(true); // the log has it: the next pass sends viewers to read it
      } else {
        inbox.add(batch);
      }
      if (scheduled.compareAndSet(false, true)) {
        context.runOnContext(v -> flushWhenDue());
      }
    }

    private void flushWhenDue() {
      long wait = nextPass - System.nanoTime();
      if (wait >= 1_000_000) {
        ((ContextInternal) context)
            .setTimer(wait / 1_000_000, t -> flush()); // timers count whole milliseconds
      } else {
        flush();
      }
    }

    /** Writes what the inbox holds: each run of consecutive batches as one. */
    private void flush() {
      long start = System.nanoTime();
      scheduled.set(false);
      EncodedBatch<E> batch;
      boolean dropped = overflowed.getAndSet(false);
      while ((batch = inbox.poll()) != null) {
        queuedEvents.addAndGet(-batch.size());
        if (!run.isEmpty() && !run.get(run.size() - 1).precedes(batch)) {
          deliverRun();
        }
        run.add(batch);
      }
      if (!run.isEmpty()) {
        deliverRun();
      }
      if (dropped) {
        forEach(Viewer::resync);
      }
      long end = System.nanoTime();
      nextPass = end + Math.min(maxPauseNanos, 3 * (end - start));
    }

    private void deliverRun() {
      EncodedBatch<E> merged = EncodedBatch.merge(run);
      run.clear();
      deliver(merged);
    }

    void add(Viewer<E> viewer) {
      viewer.slot = viewers.size();
      viewers.add(viewer);
      live++;
    }

    /** Removes the viewer; true if it was here. */
    boolean remove(Viewer<?> viewer) {
      int slot = viewer.slot;
      if (slot < 0 || slot >= viewers.size() || viewers.get(slot) != viewer) {
        return false;
      }
      viewer.slot = -1;
      live--;
      if (delivering) {
        viewers.set(slot, null);
        dirty = true;
        return true;
      }
      Viewer<E> last = viewers.remove(viewers.size() - 1);
      if (last != viewer) {
        viewers.set(slot, last);
        last.slot = slot;
      }
      return true;
    }

    /** No viewers left: a batch already on its way here finds nobody, which is harmless. */
    boolean isEmpty() {
      return live == 0;
    }

    void deliver(EncodedBatch<E> batch) {
      forEach(viewer -> viewer.onBatch(batch));
    }

    /** Runs {@code action} on each viewer; viewers that leave meanwhile are removed afterwards. */
    void forEach(Consumer<Viewer<E>> action) {
      delivering = true;
      try {
        for (int i = 0, n = viewers.size(); i < n; i++) {
          Viewer<E> viewer = viewers.get(i);
          if (viewer != null) {
            action.accept(viewer);
          }
        }
      } finally {
        delivering = false;
      }
      if (dirty) {
        dirty = false;
        viewers.removeIf(v -> v == null);
        for (int i = 0; i < viewers.size(); i++) {
          viewers.get(i).slot = i;
        }
      }
    }
  }
}
