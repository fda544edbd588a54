package io.tokenbus.http;

import io.tokenbus.generation.GenerationStore;
import io.tokenbus.session.SessionStore;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.healthchecks.HealthChecks;
import io.vertx.ext.healthchecks.Status;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntSupplier;

/**
 * The node's probes, as vertx-health-checks procedures ({@code GET /health/live}, {@code GET
 * /health/ready}):
 *
 * <ul>
 *   <li><b>live</b>: the process serves HTTP. Its one check is answering at all: a node whose event
 *       loops are stuck does not answer, and a probe's timeout says so.
 *   <li><b>ready</b>: the node may be sent requests. Four checks, each with its own answer in the
 *       body: {@code cluster} (a clustered node is a member of a cluster with at least one member;
 *       a single node always is), {@code generations} and {@code sessions} (a read of an id that
 *       does not exist completes within {@link #STORE_TIMEOUT_MS}: in a cluster, one entry
 *       processor on a partition owner), and {@code draining} (down from SIGTERM on, for {@code
 *       http.drain-seconds} before the node closes).
 * </ul>
 *
 * Every failing check answers down (503), timeouts and errors included, never the 500 the library
 * gives a procedure that fails: a load balancer only needs to know whether to send.
 */
public final class NodeHealth {

  /** How long a store has to answer a probe's read. */
  static final long STORE_TIMEOUT_MS = 2000;

  /** An id no generation or session has: generation and session ids have other shapes. */
  private static final String PROBE_ID = "tokenbus-health-probe";

  private final AtomicBoolean draining = new AtomicBoolean();
  private final HealthChecks live;
  private final HealthChecks ready;

  /**
   * @param members the number of members of the node's cluster, or -1 when it has left it; null on
   *     a single node
   */
  public NodeHealth(
      Vertx vertx, GenerationStore store, SessionStore sessions, IntSupplier members) {
    live = HealthChecks.create(vertx).register("http", promise -> promise.complete(Status.OK()));
    ready =
        HealthChecks.create(vertx)
            .register("cluster", promise -> promise.complete(cluster(members)))
            // The library's own timeout (1 s by default) would answer 500: ours answers first.
            .register(
                "generations",
                STORE_TIMEOUT_MS + 1000,
                promise -> answers(store.info(PROBE_ID), promise))
            .register(
                "sessions", STORE_TIMEOUT_MS + 1000, promise -> answers(sessions.probe(), promise))
            .register(
                "draining",
                promise ->
                    promise.complete(
                        draining.get()
                            ? Status.KO(new JsonObject().put("draining", true))
                            : Status.OK()));
  }

  private static Status cluster(IntSupplier members) {
    if (members == null) {
      return Status.OK(new JsonObject().put("clustered", false));
    }
    int count = members.getAsInt();
    JsonObject data = new JsonObject().put("clustered", true).put("members", Math.max(0, count));
    return count > 0 ? Status.OK(data) : Status.KO(data);
  }

  /** Up once {@code read} completes in time, whatever it found; down on a failure or timeout. */
  private static void answers(Future<?> read, Promise<Status> promise) {
    read.timeout(STORE_TIMEOUT_MS, TimeUnit.MILLISECONDS)
        .onComplete(
            ar ->
                promise.complete(
                    ar.succeeded()
                        ? Status.OK()
                        : Status.KO(
                            new JsonObject().put("error", ar.cause().getClass().getSimpleName()))));
  }

  /** From now on the node is not ready: it is about to close. */
  public void drain() {
    draining.set(true);
  }

  public boolean draining() {
    return draining.get();
  }

  HealthChecks live() {
    return live;
  }

  HealthChecks ready() {
    return ready;
  }
}
