package io.tokenbus.session;

import io.tokenbus.bus.Addresses;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.MessageConsumer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/** A node's session subscriptions: one event-bus consumer per session with viewers here, shared by all of them. */
public final class SessionHub {

  private final Vertx vertx;
  private final Map<String, Channel> channels = new HashMap<>();

  public SessionHub(Vertx vertx) {
    this.vertx = vertx;
  }

  private final class Channel {
    final MessageConsumer<SessionBatch> consumer;
    final List<SessionViewer> viewers = new CopyOnWriteArrayList<>();

    Channel(String session) {
      consumer = vertx.eventBus().consumer(Addresses.sessionEvents(session), message -> {
        List<EncodedSessionEvent> batch = SessionViewer.encode(session, message.body().events());
        for (SessionViewer viewer : viewers) {
          viewer.context.runOnContext(v -> viewer.onBatch(batch));
        }
      });
    }
  }

  synchronized Future<Void> join(SessionViewer viewer) {
    Channel channel = channels.computeIfAbsent(viewer.session(), Channel::new);
    channel.viewers.add(viewer);
    return channel.consumer.completion();
  }

  synchronized void leave(SessionViewer viewer) {
    Channel channel = channels.get(viewer.session());
    if (channel != null && channel.viewers.remove(viewer) && channel.viewers.isEmpty()) {
      channels.remove(viewer.session());
      channel.consumer.unregister();
    }
  }
}
