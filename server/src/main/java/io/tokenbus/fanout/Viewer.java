package io.tokenbus.fanout;

import io.tokenbus.bus.StreamEvent;
import io.tokenbus.metrics.Metrics;
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
 * One connection watching one stream (a generation, a chat session): nothing more than an output
 * and a cursor (the last seq it was sent). Lives on its connection's event loop. Every kind of
 * stream gets the same guarantees from this one class.
 *
 * <p>Joining without a race: register for live batches first (holding what arrives), let the source
 * say where to start (and send what it gives a newcomer first), read the log after the cursor and
 * send it, then release the held batches above what was sent. Late join (cursor 0), resume
 * (Last-Event-ID), snapshot and a session's state-first join all take this path.
 *
 * <p>Slow viewers: when the connection's write queue is full nothing more is queued for it; it
 * keeps only its cursor (the log is the buffer). When the queue drains, it reads what it missed
 * from the log and receives it merged into one delta carrying the last seq. Stalled longer than the
 * limit, the connection is closed and its client resumes.
 */
public final class Viewer<E extends StreamEvent> {

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

  private enum State {
    NEW,
    CATCHING_UP,
    LIVE,
    STALLED,
    CLOSED
  }

  private final FanOut fanOut;
  private final StreamSource<E> source;
  private final ViewerOutput<E> out;
  private final boolean snapshot;
  private final ArrayDeque<EncodedBatch<E>> held = new ArrayDeque<>();
  private ContextInternal context;
  private FrameCache<E> frames;
  private State state = State.NEW;
  private long cursor;
  private int heldEvents;
  private boolean heldOverflow;

  /** A resync came while the log was being read: read it once more when that read ends. */
  private boolean resyncDue;

  private long stallTimer = -1;
  private int readRetries;

  /** Counted among the node's viewers ({@code tokenbus_viewers}) from its start to its end. */
  private boolean counted;

  int slot = -1;

  /**
   * @param cursor the last seq the client has (0 for everything; what else, the source says)
   * @param snapshot send what the log holds merged (one delta) instead of event by event
   */
  public Viewer(
      FanOut fanOut, StreamSource<E> source, long cursor, boolean snapshot, ViewerOutput<E> out) {
    this.fanOut = fanOut;
    this.source = source;
    this.cursor = cursor;
    this.snapshot = snapshot;
    this.out = out;
  }

  StreamSource<E> source() {
    return source;
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
    counted = true;
    fanOut.metrics().viewerJoined(transport());
    FanOut.Joined<E> joined = fanOut.join(this);
    frames = joined.frames();
    // The consumer's registration completes on the loop of whoever created the channel: come home
    // first.
    joined.ready().onComplete(ar -> onLoop(() -> subscribed(ar)));
  }

  /** Live batches reach this viewer from now on: ask the source where to start. */
  private void subscribed(AsyncResult<Void> ar) {
    if (ar.failed()) {
      LOG.warn("Viewer of {} could not subscribe: {}", source.id(), ar.cause().getMessage());
      abort("subscription failed");
    } else if (state == State.CATCHING_UP) {
      source.start(cursor, out.format()).onComplete(started -> onLoop(() -> begin(started)));
    }
  }

  /** Where the source says to start: what it gives first, then the log after that cursor. */
  private void begin(AsyncResult<StreamSource.Start> started) {
    if (state != State.CATCHING_UP) {
      return;
    }
    if (started.failed()) {
      LOG.info("Viewer of {} cannot start: {}", source.id(), started.cause().getMessage());
      abort(started.cause().getMessage());
      return;
    }
    cursor = started.result().cursor();
    if (started.result().head() != null) {
      out.write(started.result().head());
    }
    readLog(snapshot);
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
    leave(Metrics.Disconnect.CLIENT);
  }

  /** Leaves before the stream's end: {@code reason} says why; null if it ended. */
  private void leave(Metrics.Disconnect reason) {
    if (state != State.CLOSED) {
      state = State.CLOSED;
      cancelStallTimer();
      fanOut.leave(this);
      if (counted) {
        counted = false;
        fanOut.metrics().viewerLeft(transport());
        if (reason != null) {
          fanOut.metrics().disconnected(reason);
        }
      }
    }
  }

  private Metrics.Transport transport() {
    return switch (out.format()) {
      case WEBSOCKET -> Metrics.Transport.WEBSOCKET;
      case NONE -> Metrics.Transport.NON_STREAMING;
      case SSE, CHAT_CHUNKS, CHAT_CHUNKS_WITH_USAGE, SEED_SSE, SEED_JSON, RESPONSES ->
          Metrics.Transport.SSE;
    };
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
  void onBatch(EncodedBatch<E> batch) {
    assert context.inThread() : "viewer of " + source.id() + " called off its event loop";
    if (batch.passing()) {
      if (batch.terminal()) {
        // An end no log holds (a deleted session): told to every viewer still here, however far
        // behind, since reading the log would only say the stream is gone.
        if (state != State.CLOSED) {
          out.write(batch.in(out.format()));
          leave(null);
          out.end();
        }
        return;
      }
      if (state == State.LIVE && !out.writeQueueFull()) {
        out.write(batch.in(out.format())); // worth showing now, not worth holding or replaying
      }
      return;
    }
    switch (state) {
      case LIVE -> deliver(batch);
      case CATCHING_UP -> hold(batch);
      default -> {
        // NEW, STALLED, CLOSED: the log has it
      }
    }
  }

  private void deliver(EncodedBatch<E> batch) {
    if (batch.lastSeq() <= cursor) {
      return;
    }
    if (batch.firstSeq() > cursor + 1) {
      catchUp(false); // a gap: fill it from the log
      return;
    }
    send(batch.in(out.format()).from((int) (cursor + 1 - batch.firstSeq())));
  }

  private void hold(EncodedBatch<E> batch) {
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
    fanOut.metrics().catchup();
    state = State.CATCHING_UP;
    readLog(merge);
  }

  private void readLog(boolean merge) {
    resyncDue = false;
    held.clear();
    heldEvents = 0;
    heldOverflow = false;
    source.readAfter(cursor).onComplete(ar -> onLoop(() -> afterRead(ar, merge)));
  }

  private void afterRead(AsyncResult<List<E>> ar, boolean merge) {
    assert context.inThread() : "viewer of " + source.id() + " called off its event loop";
    if (state != State.CATCHING_UP) {
      return;
    }
    if (ar.failed() && readRetries < MAX_READ_RETRIES) {
      long delay = Math.min(1000, 50L << readRetries++);
      LOG.debug(
          "Viewer of {}: log read failed ({}), retrying in {} ms",
          source.id(),
          ar.cause().getMessage(),
          delay);
      context
          .owner()
          .setTimer(
              delay,
              t ->
                  onLoop(
                      () -> {
                        if (state == State.CATCHING_UP) {
                          readLog(merge);
                        }
                      }));
      return;
    }
    if (ar.failed()) {
      LOG.warn("Viewer of {} cannot read the log: {}", source.id(), ar.cause().getMessage());
      abort("its log cannot be read");
      return;
    }
    if (ar.result() == null) {
      abort(source.goneReason());
      return;
    }
    readRetries = 0;
    List<E> events = merge ? merge(ar.result(), source) : ar.result();
    if (!events.isEmpty()
        && !send(
            merge
                ? Encoded.encode(source, out.format(), events)
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
   * as they do but for a long replay or a loop far behind), checking the write queue before each. A
   * full queue stalls the viewer at the last seq written. False if it stopped before the end.
   */
  private boolean send(Encoded<E> encoded) {
    int limit = fanOut.config().writeQueueBytes();
    for (int i = 0, n = encoded.size(); i < n; ) {
      if (out.writeQueueFull()) {
        stall();
        return false;
      }
      int j = encoded.fit(i, limit);
      Encoded<E> piece = encoded.range(i, j);
      out.write(piece);
      fanOut.metrics().delivered(j - i);
      cursor = piece.last().seq();
      if (piece.last().terminal()) {
        leave(null);
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
    stallTimer =
        context
            .owner()
            .setTimer(
                limitMs,
                t -> {
                  stallTimer = -1;
                  if (state == State.STALLED) {
                    LOG.info(
                        "Viewer of {} stalled for {} ms at seq {}; closing its connection",
                        source.id(),
                        limitMs,
                        cursor);
                    leave(Metrics.Disconnect.STALLED);
                    out.stalled();
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
    leave(Metrics.Disconnect.LOST);
    out.lost(reason);
  }

  private void cancelStallTimer() {
    if (stallTimer != -1) {
      context.owner().cancelTimer(stallTimer);
      stallTimer = -1;
    }
  }

  /**
   * Folds each run of neighbouring events with the same {@link StreamSource#foldKey} (plain deltas)
   * into events of at most {@link #MERGED_DELTA_MAX_CHARS} (a longer single one is kept whole),
   * each carrying the seq of the last event it covers. Anything else is kept whole, so Chat
   * Completions clients still get a delta's pass-through fields.
   */
  static <E extends StreamEvent> List<E> merge(List<E> events, StreamSource<E> source) {
    List<E> merged = new ArrayList<>();
    StringBuilder text = null;
    E last = null;
    String key = null;
    for (E event : events) {
      String eventKey = source.foldKey(event);
      if (text != null
          && (eventKey == null
              || !eventKey.equals(key)
              || text.length() + source.text(event).length() > MERGED_DELTA_MAX_CHARS)) {
        merged.add(source.folded(last, text.toString()));
        text = null;
      }
      if (eventKey == null) {
        merged.add(event);
      } else {
        text =
            text == null ? new StringBuilder(source.text(event)) : text.append(source.text(event));
        last = event;
        key = eventKey;
      }
    }
    if (text != null) {
      merged.add(source.folded(last, text.toString()));
    }
    return merged;
  }
}
