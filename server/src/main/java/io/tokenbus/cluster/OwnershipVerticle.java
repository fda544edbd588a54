package io.tokenbus.cluster;

import io.tokenbus.bus.Addresses;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.spi.cluster.ClusterManager;
import java.util.HashSet;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes over generations whose owner has left the cluster (killed, or released on shutdown). Every
 * second, each node looks only at the generations stored on it as partition owner, so the work is
 * spread and every orphan has exactly one node looking at it; the takeover itself is a
 * compare-and-set with an epoch bump, and a local worker continues the generation from its log.
 */
public final class OwnershipVerticle extends VerticleBase {

  private static final Logger LOG = LoggerFactory.getLogger(OwnershipVerticle.class);

  private final HazelcastGenerationStore store;
  private final ClusterManager cluster;
  private final long intervalMs;
  private boolean sweeping;

  public OwnershipVerticle(
      HazelcastGenerationStore store, ClusterManager cluster, long intervalMs) {
    this.store = store;
    this.cluster = cluster;
    this.intervalMs = intervalMs;
  }

  @Override
  public Future<?> start() {
    vertx.setPeriodic(intervalMs, id -> sweep());
    return Future.succeededFuture();
  }

  private void sweep() {
    if (sweeping) {
      return;
    }
    sweeping = true;
    Set<String> alive = new HashSet<>(cluster.getNodes());
    vertx
        .executeBlocking(() -> store.localOrphans(alive), false)
        .compose(
            orphans ->
                Future.join(
                    orphans.stream()
                        .map(
                            id ->
                                store
                                    .takeover(id, alive)
                                    .onSuccess(
                                        resume -> {
                                          if (resume != null) {
                                            LOG.info(
                                                "Taking over generation {} at seq {}: its owner left the cluster",
                                                id,
                                                resume.progress().lastSeq());
                                            vertx.eventBus().send(Addresses.RESUME, resume);
                                          }
                                        }))
                        .toList()))
        .onFailure(e -> LOG.warn("Ownership sweep failed: {}", e.getMessage()))
        .onComplete(ar -> sweeping = false);
  }
}
