package io.tokenbus.fanout;

import io.tokenbus.bus.EventType;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.generation.GenerationInfo;
import io.vertx.core.AsyncResult;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.internal.ContextInternal;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connection watching one generation: nothing more than an output and a cursor (the last seq
 * it was sent). Lives on its connection's event loop.
 *
 * <p>Joining without a race: register for live batches first (holding what arrives), read the log
 * after the cursor and send it, then release the held batches above what was sent. Late join
 * (cursor 0), resume (Last-Event-ID) and snapshot all take this path.
 *
 * <p>Slow viewers: when the connection's write queue is full nothing more is queued for it; it
 * keeps only its cursor (the log is the buffer). When the queue drains, it reads what it missed
 * from the log and receives it merged into one delta carrying the last seq. Stalled longer than
 * the limit, the connection is closed and its client resumes.
 */
public final class Viewer {

  private static final Logger LOG = LoggerFactory.getLogger(Viewer.class);
  /**
   * A replicated store can refuse a read for a moment (partitions moving after a node left): retry
   * with backoff, 50 ms doubling to 1 s, about 5 s in all, before giving the connection up.
   */
  private static final int MAX_READ_RETRIES = 9;
  /**
   * Most text one merged delta holds. A catch-up can cover a whole answer, and one frame that big
   * is refused by common WebSocket clients (Vert.x's default frame limit is 64 KiB, Python's
   * websockets 1 MiB); 8,192 characters stay under 64 KiB even if every one is JSON-escaped.
   */
  static final int MERGED_DELTA_MAX_CHARS = 8192;

  private enum State { NEW, CATCHING_UP, LIVE, STALLED, CLOSED }

  private final FanOut fanOut;
  private final GenerationInfo info;
  private final ViewerOutput out;
  private final boolean snapshot;
  private final EventEncoder encoder;
  private final ArrayDeque<EncodedBatch> held = new ArrayDeque<>();
  private ContextInternal context;
  private FrameCache frames;
  private State state = State.NEW;
  private long cursor;
  private int heldEvents;
  private boolean heldOverflow;
  /** A resync came while the log was being read: read it once more when that read ends. */
  private boolean resyncDue;
  private long stallTimer = -1;
  private int readRetries;
  int slot = -1;

  /**
   * @param cursor   the last seq the client has (0 for everything)
   * @param snapshot send what the log holds as one merged delta instead of event by event
   */
  public Viewer(FanOut fanOut, GenerationInfo info, long cursor, boolean snapshot, ViewerOutput out) {
    this.fanOut = fanOut;
    this.info = info;
    this.cursor = cursor;
    this.snapshot = snapshot;
    this.out = out;
    this.encoder = new EventEncoder(info);
  }

  public String generation() {
    return info.id();
  }

  GenerationInfo info() {
    return info;
  }

  /** The viewer's event-loop context (never a per-request duplicate). */
  Context context() {
    return context;
  }

  /** Starts watching; call on the connection's event loop. */
  public void start() {
    Context current = Vertx.currentContext();
    if (current == null || !current.isEventLoopContext()) {
      throw new IllegalStateException("a viewer starts on its connection's event loop");
    }
    context = (ContextInternal) FanOut.loopOf(current);
    state = State.CATCHING_UP;
    FanOut.Joined joined = fanOut.join(this);
    frames = joined.frames();
    // The consumer's registration completes on the loop of whoever created the channel: come home first.
    joined.ready().onComplete(ar -> onLoop(() -> {
      if (ar.failed()) {
        LOG.warn("Viewer of {} could not subscribe: {}", info.id(), ar.cause().getMessage());
        abort("subscription failed");
      } else if (state == State.CATCHING_UP) {
        readLog(snapshot);
      }
    }));
  }

  private void onLoop(Runnable action) {
    if (context.inThread()) {
      action.run();
    } else {
      context.runOnContext(v -> action.run());
    }
  }

  /** The client went away or unsubscribed. */
  public void close() {
    if (state != State.CLOSED) {
      state = State.CLOSED;
      cancelStallTimer();
      fanOut.leave(this);
    }
  }

  /**
   * Re-reads the log after the cursor (see {@link FanOut#resync()}); on this viewer's loop. A read
   * in flight may have been taken before what this is for, so it is followed by another; a stalled
   * viewer reads when it drains, after this.
   */
  void resync() {
    if (state == State.LIVE) {
      catchUp(false);
    } else if (state == State.CATCHING_UP) {
      resyncDue = true;
    }
  }

  /** A live batch, on this viewer's event loop. */
  void onBatch(EncodedBatch batch) {
    assert context.inThread() : "viewer of " + info.id() + " called off its event loop";
    switch (state) {
      case LIVE -> deliver(batch);
      case CATCHING_UP -> hold(batch);
      default -> {
        // NEW, STALLED, CLOSED: the log has it
      }
    }
  }

  private void deliver(EncodedBatch batch) {
    if (batch.lastSeq() <= cursor) {
      return;
    }
    if (batch.firstSeq() > cursor + 1) {
      catchUp(false); // a gap: fill it from the log
      return;
    }
    send(batch.in(out.format()).from((int) (cursor + 1 - batch.firstSeq())));
  }

  private void hold(EncodedBatch batch) {
    if (heldOverflow) {
      return;
    }
    if (heldEvents + batch.size() > fanOut.config().catchUpBufferEvents()) {
      heldOverflow = true;
      held.clear();
      heldEvents = 0;
      return;
    }
    held.add(batch);
    heldEvents += batch.size();
  }

  private void catchUp(boolean merge) {
    state = State.CATCHING_UP;
    readLog(merge);
  }

  private void readLog(boolean merge) {
    resyncDue = false;
    held.clear();
    heldEvents = 0;
    heldOverflow = false;
    fanOut.store().readAfter(info.id(), cursor).onComplete(ar -> onLoop(() -> afterRead(ar, merge)));
  }

  private void afterRead(AsyncResult<List<GenerationEvent>> ar, boolean merge) {
    assert context.inThread() : "viewer of " + info.id() + " called off its event loop";
    if (state != State.CATCHING_UP) {
      return;
    }
    if (ar.failed() && readRetries < MAX_READ_RETRIES) {
      long delay = Math.min(1000, 50L << readRetries++);
      LOG.debug("Viewer of {}: log read failed ({}), retrying in {} ms", info.id(), ar.cause().getMessage(), delay);
      context.owner().setTimer(delay, t -> onLoop(() -> {
        if (state == State.CATCHING_UP) {
          readLog(merge);
        }
      }));
      return;
    }
    if (ar.failed() || ar.result() == null) {
      LOG.warn("Viewer of {} cannot read the log: {}", info.id(), ar.failed() ? ar.cause().getMessage() : "expired");
      abort("generation log unavailable");
      return;
    }
    readRetries = 0;
    List<GenerationEvent> events = merge ? merge(ar.result()) : ar.result();
    if (!events.isEmpty() && !send(merge ? Encoded.encode(encoder, out.format(), events)
        : Encoded.cached(frames, out.format(), events, false))) {
      return;
    }
    if (state != State.CATCHING_UP) {
      return;
    }
    if (heldOverflow || resyncDue) {
      readLog(merge); // same mode: a viewer that is not behind must not get merged deltas
      return;
    }
    state = State.LIVE;
    while (!held.isEmpty() && state == State.LIVE) {
      deliver(held.poll());
    }
    held.clear();
    heldEvents = 0;
  }

  /**
   * Writes events in pieces of at most {@code viewer.write-queue-bytes} (one write when they fit,
   * as they do but for a long replay or a loop far behind), checking the write queue before each.
   * A full queue stalls the viewer at the last seq written. False if it stopped before the end.
   */
  private boolean send(Encoded encoded) {
    int limit = fanOut.config().writeQueueBytes();
    for (int i = 0, n = encoded.size(); i < n; ) {
      if (out.writeQueueFull()) {
        stall();
        return false;
      }
      int j = encoded.fit(i, limit);
      Encoded piece = encoded.range(i, j);
      out.write(piece);
      cursor = piece.last().seq();
      if (piece.last().terminal()) {
        state = State.CLOSED;
        cancelStallTimer();
        fanOut.leave(this);
        out.end();
        return false;
      }
      i = j;
    }
    return true;
  }

  private void stall() {
    state = State.STALLED;
    out.onDrain(this::onDrain);
    long limitMs = fanOut.config().maxStallSeconds() * 1000L;
    stallTimer = context.owner().setTimer(limitMs, t -> {
      stallTimer = -1;
      if (state == State.STALLED) {
        LOG.info("Viewer of {} stalled for {} ms at seq {}; closing its connection", info.id(), limitMs, cursor);
        abort("stalled");
      }
    });
  }

  private void onDrain() {
    if (state == State.STALLED) {
      cancelStallTimer();
      catchUp(true);
    }
  }

  private void abort(String reason) {
    close();
    out.abort(reason);
  }

  private void cancelStallTimer() {
    if (stallTimer != -1) {
      context.owner().cancelTimer(stallTimer);
      stallTimer = -1;
    }
  }

  /**
   * Folds each run of consecutive plain deltas into deltas of at most
   * {@link #MERGED_DELTA_MAX_CHARS} (a longer single delta is kept whole), each carrying the seq of
   * the last delta it covers. A delta with pass-through data is kept whole, so Chat Completions
   * clients still get its fields.
   */
  static List<GenerationEvent> merge(List<GenerationEvent> events) {
    List<GenerationEvent> merged = new ArrayList<>();
    StringBuilder text = null;
    long seq = 0;
    for (GenerationEvent event : events) {
      if (event.type() == EventType.DELTA && event.data() == null) {
        if (text != null && text.length() + event.text().length() > MERGED_DELTA_MAX_CHARS) {
          merged.add(GenerationEvent.delta(seq, text.toString()));
          text = null;
        }
        text = text == null ? new StringBuilder(event.text()) : text.append(event.text());
        seq = event.seq();
      } else {
        if (text != null) {
          merged.add(GenerationEvent.delta(seq, text.toString()));
          text = null;
        }
        merged.add(event);
      }
    }
    if (text != null) {
      merged.add(GenerationEvent.delta(seq, text.toString()));
    }
    return merged;
  }
}
