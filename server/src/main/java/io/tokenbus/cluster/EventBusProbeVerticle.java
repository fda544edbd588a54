package io.tokenbus.cluster;

import io.tokenbus.bus.Addresses;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.spi.cluster.ClusterManager;
import io.vertx.core.spi.cluster.NodeInfo;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Says in this node's log when another member of the cluster cannot exchange event-bus messages
 * with it. A process joins Hazelcast whatever its event bus does: with {@code cluster.tls}, one
 * whose certificate the CA did not sign, or that runs without TLS, is still a member, while every
 * event-bus link between it and this node fails its TLS handshake, so messages either way are lost
 * without an error (a request times out). Each node answers on its own probe address; this node
 * asks each member once, soon after it appears, and warns about one that does not answer.
 */
public final class EventBusProbeVerticle extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(EventBusProbeVerticle.class);

  /** How long a member has to answer once its probe address exists. */
  static final long ANSWER_MS = 10_000;

  /** How long a member may take from joining Hazelcast to answering on its probe address. */
  static final long START_MS = 60_000;

  private static final long TICK_MS = 1_000;

  private final ClusterManager cluster;
  private final boolean tls;

  /** Members not checked yet, with the time they were first seen. */
  private final Map<String, Long> unchecked = new HashMap<>();

  /** Members with a probe on its way. */
  private final Set<String> asking = new HashSet<>();

  /** Members that answered, or were warned about. */
  private final Set<String> checked = new HashSet<>();

  public EventBusProbeVerticle(ClusterManager cluster, boolean tls) {
    this.cluster = cluster;
    this.tls = tls;
  }

  @Override
  public Future<?> start() {
    String self = cluster.getNodeId();
    MessageConsumer<String> consumer =
        vertx.eventBus().consumer(Addresses.probe(self), message -> message.reply(self));
    vertx.setPeriodic(TICK_MS, id -> tick(self));
    return consumer.completion();
  }

  private void tick(String self) {
    List<String> members = cluster.getNodes();
    checked.retainAll(members);
    unchecked.keySet().retainAll(members);
    long now = System.currentTimeMillis();
    for (String member : members) {
      if (!member.equals(self) && !checked.contains(member) && asking.add(member)) {
        long since = unchecked.computeIfAbsent(member, m -> now);
        ask(member, now - since);
      }
    }
  }

  private void ask(String member, long sinceMs) {
    vertx
        .eventBus()
        .request(Addresses.probe(member), "", new DeliveryOptions().setSendTimeout(ANSWER_MS))
        .onComplete(
            answer -> {
              asking.remove(member);
              if (answer.succeeded()) {
                done(member);
              } else if (!noHandlers(answer.cause())) {
                done(member);
                warn(
                    member,
                    timedOut(answer.cause())
                        ? "no answer in " + ANSWER_MS / 1000 + " s"
                        : answer.cause().getMessage());
              } else if (sinceMs >= START_MS) {
                // Asked again at the next tick until then: the member may still be starting.
                done(member);
                warn(member, "it registered no probe address in " + START_MS / 1000 + " s");
              }
            });
  }

  private static boolean noHandlers(Throwable e) {
    return e instanceof ReplyException reply && reply.failureType() == ReplyFailure.NO_HANDLERS;
  }

  private static boolean timedOut(Throwable e) {
    return e instanceof ReplyException reply && reply.failureType() == ReplyFailure.TIMEOUT;
  }

  private void done(String member) {
    unchecked.remove(member);
    checked.add(member);
  }

  private void warn(String member, String failure) {
    if (!cluster.getNodes().contains(member)) {
      return; // it left meanwhile (killed, say): nothing to say about its certificate
    }
    Promise<NodeInfo> info = Promise.promise();
    cluster.getNodeInfo(member, info);
    info.future()
        .map(node -> " (event bus at " + node.host() + ":" + node.port() + ")")
        .otherwise("")
        .onSuccess(
            where ->
                LOG.warn(
                    "Member {}{} is in the cluster but exchanges no event-bus messages with this"
                        + " node ({}). {}",
                    member,
                    where,
                    failure,
                    tls
                        ? "Its certificate is probably not signed by cluster.tls.ca-path, or it runs"
                            + " without TLS: it gets no live events from this node and its requests"
                            + " are refused, but it is still a Hazelcast member, which can read and"
                            + " write the cluster's maps (README, Security: between nodes)."
                        : "Can this node reach its event-bus port (cluster.event-bus-port)?"));
  }
}
