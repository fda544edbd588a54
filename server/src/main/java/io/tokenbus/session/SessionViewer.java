package io.tokenbus.session;

import io.vertx.core.Context;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;

/**
 * One participant's view of a session's event stream, on its connection's event loop. It starts
 * from a cursor (the last seq the client has), or from the session's state for a newcomer, and
 * then gets live batches. Batches that arrive while it reads the store are held and replayed after,
 * skipping what the read already gave, so nothing is missed or doubled at the hand-over; a gap (a
 * batch from another node overtaken by a later one) or a full write queue is mended by reading the
 * store after the cursor again.
 */
public final class SessionViewer {

  private final SessionHub hub;
  private final Sessions sessions;
  private final String session;
  private final SessionOutput output;
  final Context context;
  private long cursor;
  private boolean reading;
  /** A resync came while a read was in flight: read once more when it ends. */
  private boolean resyncDue;
  private boolean behind;
  private boolean closed;
  private final List<List<EncodedSessionEvent>> held = new ArrayList<>();
  /** Batches held while reading or stuck; past it they are dropped and the store is read again instead. */
  static final int MAX_HELD = 256;
  private boolean heldDropped;

  /** @param after the client's cursor, or -1 for a newcomer, who gets the state first */
  public SessionViewer(SessionHub hub, Sessions sessions, String session, long after, SessionOutput output, Context context) {
    this.hub = hub;
    this.sessions = sessions;
    this.session = session;
    this.output = output;
    this.context = context;
    this.cursor = after;
  }

  String session() {
    return session;
  }

  public Future<Void> start() {
    reading = true;
    return hub.join(this)
        .compose(v -> cursor >= 0 ? Future.<SessionState.View>succeededFuture() : sessions.view(session))
        .onComplete(ar -> context.runOnContext(x -> {
          if (ar.failed() || (cursor < 0 && ar.result() == null)) {
            close();
            output.fail(ar.failed() ? ar.cause().getMessage() : "no such session");
            return;
          }
          if (cursor < 0) {
            cursor = ar.result().seq();
            output.state(ar.result());
          }
          read();
          // In a cluster a new subscription takes a moment to reach the other nodes: what they published
          // meanwhile is read once more, in case it was the last event for a while.
          context.owner().setTimer(1500, t -> resync());
        })).mapEmpty();
  }

  /**
   * Reads the store after the cursor; on this viewer's loop. A read already in flight may have been
   * taken before what this is for, so it is followed by another one (a viewer behind reads when it
   * drains, after this).
   */
  void resync() {
    if (closed || behind) {
      return;
    }
    if (reading) {
      resyncDue = true;
      return;
    }
    read();
  }

  public void close() {
    if (!closed) {
      closed = true;
      hub.leave(this);
    }
  }

  static List<EncodedSessionEvent> encode(String session, List<SessionEvent> events) {
    return events.stream().map(e -> new EncodedSessionEvent(session, e)).toList();
  }

  /** A live batch (encoded once for the node), on this viewer's loop. */
  void onBatch(List<EncodedSessionEvent> batch) {
    if (closed || batch.isEmpty()) {
      return;
    }
    if (batch.get(0).seq() == 0) {
      // A passing event (typing): worth showing now, not worth holding or replaying.
      if (!reading && !behind && !output.writeQueueFull()) {
        output.events(batch);
      }
      return;
    }
    if (reading || behind) {
      if (held.size() >= MAX_HELD) {
        held.clear();
        heldDropped = true;
      } else if (!heldDropped) {
        held.add(batch);
      }
      return;
    }
    if (batch.get(batch.size() - 1).seq() <= cursor) {
      return;
    }
    if (batch.get(0).seq() > cursor + 1) {
      read();
      return;
    }
    write(batch);
  }

  private void read() {
    reading = true;
    resyncDue = false;
    held.clear();
    heldDropped = false;
    sessions.readAfter(session, cursor).onComplete(ar -> context.runOnContext(v -> {
      if (closed) {
        return;
      }
      if (ar.failed() || ar.result() == null) {
        close();
        output.fail(ar.failed() ? ar.cause().getMessage() : "the session no longer exists");
        return;
      }
      reading = false;
      write(encode(session, ar.result()));
      if (!behind && (heldDropped || resyncDue)) { // behind, the read on drain covers both
        heldDropped = false;
        read();
        return;
      }
      List<List<EncodedSessionEvent>> later = new ArrayList<>(held);
      held.clear();
      later.forEach(this::onBatch);
    }));
  }

  private void write(List<EncodedSessionEvent> events) {
    List<EncodedSessionEvent> fresh = events.stream().filter(e -> e.seq() > cursor).toList();
    if (fresh.isEmpty() || closed) {
      return;
    }
    output.events(fresh);
    cursor = fresh.get(fresh.size() - 1).seq();
    if (output.writeQueueFull() && !behind) {
      behind = true;
      output.onDrain(() -> context.runOnContext(v -> {
        behind = false;
        read();
      }));
    }
  }
}
