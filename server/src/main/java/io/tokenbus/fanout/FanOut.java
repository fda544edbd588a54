package io.tokenbus.fanout;

import io.tokenbus.bus.Addresses;
import io.tokenbus.bus.ControlCommand;
import io.tokenbus.bus.EventBatch;
import io.tokenbus.config.TokenbusConfig;
import io.tokenbus.generation.GenerationStore;
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

/**
 * A node's fan-out: for each generation with viewers on this node, exactly one event-bus consumer
 * of its address, however many viewers it has. Each batch is wrapped once ({@link EncodedBatch},
 * encoded once per format) and handed to each event loop that holds viewers of it: one hop per
 * loop, not per connection, and batches that pile up while a loop is busy are written as one. Membership changes are rare and take one lock; delivery takes none.
 * While a generation has viewers here, its owner hears so ({@link ControlCommand#WATCHING}) every
 * few seconds, for the idle-cancel policy.
 */
public final class FanOut {

  private final Vertx vertx;
  private final GenerationStore store;
  private final TokenbusConfig.Viewer config;
  private final Map<String, Channel> channels = new HashMap<>();

  public FanOut(Vertx vertx, GenerationStore store, TokenbusConfig.Viewer config) {
    this(vertx, store, config, 0);
  }

  /**
   * @param idleCancelSeconds the owners' idle-cancel limit (0: none): viewers are reported at a
   *                          third of it, so a watched generation is never taken for idle
   */
  public FanOut(Vertx vertx, GenerationStore store, TokenbusConfig.Viewer config, int idleCancelSeconds) {
    this.vertx = vertx;
    this.store = store;
    this.config = config;
    if (idleCancelSeconds > 0) {
      long period = Math.max(100, idleCancelSeconds * 1000L / 3); // several reports within every idle limit
      vertx.setPeriodic(period, period, t -> reportWatched());
    }
  }

  private void reportWatched() {
    List<String> watched;
    synchronized (this) {
      watched = new ArrayList<>(channels.keySet());
    }
    watched.forEach(this::reportWatched);
  }

  private void reportWatched(String generation) {
    vertx.eventBus().send(Addresses.control(generation), ControlCommand.WATCHING);
  }

  GenerationStore store() {
    return store;
  }

  TokenbusConfig.Viewer config() {
    return config;
  }

  /** Viewers of a generation on this node. */
  public synchronized int viewers(String generation) {
    Channel channel = channels.get(generation);
    return channel == null ? 0 : channel.count;
  }

  /**
   * Adds a viewer (on its event loop); the future completes, on any thread, once live batches
   * reach it. Returns the node's frame cache of the generation for its replays.
   */
  Joined join(Viewer viewer) {
    boolean first;
    Joined joined;
    synchronized (this) {
      first = !channels.containsKey(viewer.generation());
      Channel channel = channels.computeIfAbsent(viewer.generation(), id -> new Channel(viewer));
      channel.add(viewer);
      joined = new Joined(channel.ready, channel.frames);
    }
    if (first) {
      reportWatched(viewer.generation());
    }
    return joined;
  }

  record Joined(Future<Void> ready, FrameCache frames) {
  }

  /**
   * Has every live viewer on this node re-read the log after its cursor. Called when a cluster
   * member leaves: a batch it appended but never published (its last one, perhaps the terminal
   * event) would otherwise never reach viewers that are waiting for it.
   */
  public void resync() {
    List<LoopGroup> groups = new ArrayList<>();
    synchronized (this) {
      channels.values().forEach(channel -> groups.addAll(channel.loops));
    }
    for (LoopGroup group : groups) {
      group.context.runOnContext(v -> group.forEach(Viewer::resync));
    }
  }

  /** Event loops holding viewers of a generation on this node (for tests: one hop per loop). */
  synchronized int loops(String generation) {
    Channel channel = channels.get(generation);
    return channel == null ? 0 : channel.loops.size();
  }

  /** The event-loop context itself: request handlers run on per-request duplicates of it. */
  static Context loopOf(Context context) {
    return ((ContextInternal) context).unwrap();
  }

  synchronized void leave(Viewer viewer) {
    Channel channel = channels.get(viewer.generation());
    if (channel != null && channel.remove(viewer) == 0) {
      channels.remove(viewer.generation());
      channel.consumer.unregister();
    }
  }

  /** One generation's consumer on this node, and its viewers grouped by event loop. */
  private final class Channel {
    final FrameCache frames;
    final MessageConsumer<EventBatch> consumer;
    final Future<Void> ready;
    final List<LoopGroup> loops = new CopyOnWriteArrayList<>();
    int count;
    /** The highest owner epoch seen: a batch from an older owner (paused, then fenced off) is dropped. */
    long epoch;

    Channel(Viewer first) {
      frames = new FrameCache(new EventEncoder(first.info()));
      consumer = vertx.eventBus().consumer(Addresses.events(first.generation()), this::onBatch);
      ready = consumer.completion();
    }

    void add(Viewer viewer) {
      count++;
      for (LoopGroup loop : loops) {
        if (loop.context == viewer.context()) {
          loop.add(viewer);
          return;
        }
      }
      LoopGroup loop = new LoopGroup(viewer.context(), config.coalesceMaxDelayMs() * 1_000_000L, config.catchUpBufferEvents());
      loops.add(loop);
      loop.add(viewer);
    }

    int remove(Viewer viewer) {
      for (LoopGroup loop : loops) {
        if (loop.context == viewer.context() && loop.remove(viewer) && loop.isEmpty()) {
          loops.remove(loop);
        }
      }
      return --count;
    }

    void onBatch(Message<EventBatch> message) {
      if (message.body().epoch() < epoch) {
        return;
      }
      epoch = message.body().epoch();
      EncodedBatch batch = new EncodedBatch(message.body().events(), frames);
      for (LoopGroup loop : loops) {
        loop.offer(batch);
      }
    }
  }

  /**
   * The viewers of one generation on one event loop; touched only from that loop, except
   * {@link #offer}. Removal during delivery (a viewer that just wrote its terminal event) is
   * deferred until the loop is done.
   *
   * <p>Coalescing: batches are queued in an inbox and written by a pass on the loop, which takes
   * everything queued by then and writes each viewer one buffer for all of it. A pass that took T
   * is followed by a pause of 3T, capped at {@code viewer.coalesce-max-delay-ms}: a few hundred
   * viewers (T in microseconds) get each batch at once, while thousands (each write a system call)
   * get several per write, so the cost per token falls as load rises instead of the loop falling
   * behind. The inbox holds what arrives during one pass and one pause; it is bounded by
   * {@code viewer.catch-up-buffer-events} all the same (a loop held up by something else): past it,
   * batches are dropped and the next pass has every viewer read the log after its cursor instead.
   */
  private static final class LoopGroup {
    final Context context;
    final ArrayList<Viewer> viewers = new ArrayList<>();
    final Queue<EncodedBatch> inbox = new ConcurrentLinkedQueue<>();
    final AtomicBoolean scheduled = new AtomicBoolean();
    final List<EncodedBatch> run = new ArrayList<>();
    final long maxPauseNanos;
    final int maxQueuedEvents;
    /** Events in the inbox; past {@link #maxQueuedEvents} batches are dropped and {@link #overflowed} set. */
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
    void offer(EncodedBatch batch) {
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
        ((ContextInternal) context).setTimer(wait / 1_000_000, t -> flush()); // timers count whole milliseconds
      } else {
        flush();
      }
    }

    /** Writes what the inbox holds: each run of consecutive batches as one. */
    private void flush() {
      long start = System.nanoTime();
      scheduled.set(false);
      EncodedBatch batch;
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
      EncodedBatch merged = EncodedBatch.merge(run);
      run.clear();
      deliver(merged);
    }

    void add(Viewer viewer) {
      viewer.slot = viewers.size();
      viewers.add(viewer);
      live++;
    }

    /** Removes the viewer; true if it was here. */
    boolean remove(Viewer viewer) {
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
      Viewer last = viewers.remove(viewers.size() - 1);
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

    void deliver(EncodedBatch batch) {
      forEach(viewer -> viewer.onBatch(batch));
    }

    /** Runs {@code action} on each viewer; viewers that leave meanwhile are removed afterwards. */
    void forEach(java.util.function.Consumer<Viewer> action) {
      delivering = true;
      try {
        for (int i = 0, n = viewers.size(); i < n; i++) {
          Viewer viewer = viewers.get(i);
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
