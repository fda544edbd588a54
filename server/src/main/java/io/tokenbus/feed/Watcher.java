package io.tokenbus.feed;

import io.tokenbus.auth.Principal;
import io.vertx.core.Context;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One socket's watch of one feed. The {@link Board} offers it frames (already framed, shared with
 * every other watcher of the node) from its own loop; the watcher writes them on its socket's loop.
 * A slow socket is merged, not buffered: frames wait keyed by what they are about ({@code
 * <id>/progress} keeps only the latest progress of a generation, a node's snapshot only its
 * latest), so what waits is bounded by what there is to show. Past {@code maxPending} keys (a
 * socket stuck while generations come and go) everything waiting is dropped, and once the socket
 * drains the board sends it a {@code feed.reset} and the current state again.
 */
public final class Watcher {

  /** Where the frames go: a socket's writer, on {@link #context}. */
  public interface Sink {
    boolean full();

    void write(Buffer frame);

    void whenDrained(Runnable action);

    boolean closed();
  }

  public enum Feed {
    GENERATIONS("generations"),
    CLUSTER("cluster");

    public final String wireName;

    Feed(String wireName) {
      this.wireName = wireName;
    }
  }

  final Feed feed;
  final Principal caller;
  final String model;
  final Map<String, String> metadata;
  private final Context context;
  private final Sink sink;
  private final int maxPending;
  private final Board board;
  private final LinkedHashMap<String, Buffer> pending = new LinkedHashMap<>();
  private boolean scheduled;
  private boolean waitingForDrain;
  private boolean overflowed;

  /** The board has been asked to send the state again; until it does, offers are dropped. */
  private boolean resetting;

  /** State frames among those waiting (or written since it last was empty): not bounded. */
  private int stateAllowance;

  private volatile boolean stopped;

  Watcher(
      Board board,
      Feed feed,
      Principal caller,
      String model,
      Map<String, String> metadata,
      Context context,
      Sink sink,
      int maxPending) {
    this.board = board;
    this.feed = feed;
    this.caller = caller;
    this.model = model;
    this.metadata = metadata;
    this.context = context;
    this.sink = sink;
    this.maxPending = maxPending;
  }

  /** Whether a generation (as {@link GenerationFeed#describe} tells it) is for this watcher. */
  boolean matches(JsonObject generation) {
    if (!caller.sees(generation.getString("tenant"))) {
      return false;
    }
    if (model != null && !model.equals(generation.getString("model"))) {
      return false;
    }
    JsonObject tags = generation.getJsonObject("metadata");
    for (Map.Entry<String, String> wanted : metadata.entrySet()) {
      if (tags == null || !wanted.getValue().equals(tags.getValue(wanted.getKey()))) {
        return false;
      }
    }
    return true;
  }

  /**
   * Queues {@code frame} under {@code key}, replacing what waits there (any thread); {@code
   * supersedes} are keys it makes pointless (a generation's progress once it finished).
   */
  void offer(String key, Buffer frame, String... supersedes) {
    offer(false, key, frame, supersedes);
  }

  /**
   * Queues a frame of the current state (a newcomer's, or one sent again after an overflow): the
   * state is as large as what runs, so it is allowed on top of {@code maxPending}, or a state
   * larger than the bound would overflow again each time it is sent.
   */
  void offerState(String key, Buffer frame) {
    offer(true, key, frame);
  }

  private void offer(boolean state, String key, Buffer frame, String... supersedes) {
    synchronized (pending) {
      if (stopped || overflowed) {
        return;
      }
      for (String obsolete : supersedes) {
        pending.remove(obsolete);
      }
      pending.put(key, frame);
      if (state) {
        stateAllowance++;
      } else if (pending.size() > maxPending + stateAllowance) {
        pending.clear();
        stateAllowance = 0;
        overflowed = true;
      }
      if (scheduled || waitingForDrain) {
        return;
      }
      scheduled = true;
    }
    context.runOnContext(v -> flush());
  }

  /** Writes what waits, in order, until the socket's queue is full; then waits for it to drain. */
  private void flush() {
    boolean reset;
    synchronized (pending) {
      scheduled = false;
      reset = overflowed && !waitingForDrain && !resetting;
    }
    if (stopped || sink.closed()) {
      return;
    }
    if (reset && !sink.full()) {
      synchronized (pending) {
        resetting = true; // still overflowed: what comes before the board's restart is dropped
      }
      board.resend(this);
      return;
    }
    while (true) {
      Buffer frame;
      synchronized (pending) {
        if (sink.full()) {
          waitingForDrain = true;
          break;
        }
        Iterator<Buffer> first = pending.values().iterator();
        if (!first.hasNext()) {
          stateAllowance = 0;
          return;
        }
        frame = first.next();
        first.remove();
      }
      sink.write(frame);
    }
    sink.whenDrained(
        () -> {
          synchronized (pending) {
            waitingForDrain = false;
          }
          flush();
        });
  }

  /**
   * Starts over after an overflow; on the board's loop, right before it offers the reset and the
   * state, so that no change can slip in between and be cleared by the reset.
   */
  void restart() {
    synchronized (pending) {
      pending.clear();
      stateAllowance = 0;
      overflowed = false;
      resetting = false;
    }
  }

  /** Nothing more is written (the socket unwatched or closed). */
  void stop() {
    stopped = true;
    synchronized (pending) {
      pending.clear();
    }
  }

  boolean stopped() {
    return stopped;
  }
}
