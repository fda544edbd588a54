package io.tokenbus.session;

import io.tokenbus.bus.Addresses;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.internal.ContextInternal;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A node's session subscriptions: one event-bus consumer per session with viewers here, shared by
 * all of them. A batch is encoded once for the node and handed to each event loop holding viewers
 * of it: one hop per loop, not per viewer.
 */
public final class SessionHub {

  private final Vertx vertx;
  private final Map<String, Channel> channels = new HashMap<>();

  public SessionHub(Vertx vertx) {
    this.vertx = vertx;
  }

  /** The event loop itself: request handlers run on per-request duplicates of it. */
  private static Context loopOf(Context context) {
    return ((ContextInternal) context).unwrap();
  }

  private final class Channel {
    final MessageConsumer<SessionBatch> consumer;
    /** Viewers by event loop. */
    final Map<Context, List<SessionViewer>> loops = new ConcurrentHashMap<>();
    int count;

    Channel(String session) {
      consumer = vertx.eventBus().consumer(Addresses.sessionEvents(session), message -> {
        List<EncodedSessionEvent> batch = SessionViewer.encode(session, message.body().events());
        loops.forEach((loop, viewers) -> loop.runOnContext(v -> viewers.forEach(viewer -> viewer.onBatch(batch))));
      });
    }
  }

  /**
   * Has every viewer on this node read the store after its cursor. Called when a cluster member
   * leaves: an event it stored but never published (an answer's end, say) would otherwise wait for
   * the session's next event.
   */
  public void resync() {
    List<Map.Entry<Context, List<SessionViewer>>> loops = new ArrayList<>();
    synchronized (this) {
      channels.values().forEach(channel -> loops.addAll(channel.loops.entrySet()));
    }
    loops.forEach(loop -> loop.getKey().runOnContext(v -> loop.getValue().forEach(SessionViewer::resync)));
  }

  synchronized Future<Void> join(SessionViewer viewer) {
    Channel channel = channels.computeIfAbsent(viewer.session(), Channel::new);
    channel.loops.computeIfAbsent(loopOf(viewer.context), loop -> new CopyOnWriteArrayList<>()).add(viewer);
    channel.count++;
    return channel.consumer.completion();
  }

  synchronized void leave(SessionViewer viewer) {
    Channel channel = channels.get(viewer.session());
    if (channel == null) {
      return;
    }
    Context loop = loopOf(viewer.context);
    List<SessionViewer> viewers = channel.loops.get(loop);
    if (viewers == null || !viewers.remove(viewer)) {
      return;
    }
    if (viewers.isEmpty()) {
      channel.loops.remove(loop);
    }
    if (--channel.count == 0) {
      channels.remove(viewer.session());
      channel.consumer.unregister();
    }
  }
}
