package io.tokenbus.http;

import io.tokenbus.generation.GenerationStore;
import io.tokenbus.history.WriteQueue;
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
import java.util.function.Supplier;

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
 *       processor on a partition owner; its answer reused for a second), and {@code draining} (down
 *       from SIGTERM on, for {@code http.drain-seconds} before the node closes).
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

  /** How long a store probe's answer is reused: probes from many balancers cost one read. */
  static final long PROBE_REUSE_MS = 1000;

  private final AtomicBoolean draining = new AtomicBoolean();
  private final Promise<Void> closed = Promise.promise();
  private final HealthChecks live;
  private final HealthChecks ready;

  /**
   * @param members the number of members of the node's cluster, or -1 when it has left it (or its
   *     Hazelcast instance stopped); null on a single node
   */
  public NodeHealth(
      Vertx vertx, GenerationStore store, SessionStore sessions, IntSupplier members) {
    Probe generations = new Probe(() -> store.info(PROBE_ID));
    Probe sessionStore = new Probe(sessions::probe);
    live = HealthChecks.create(vertx).register("http", promise -> promise.complete(Status.OK()));
    ready =
        HealthChecks.create(vertx)
            .register("cluster", promise -> promise.complete(cluster(members)))
            // The library's own timeout (1 s by default) would answer 500: ours answers first.
            .register(
                "generations",
                STORE_TIMEOUT_MS + 1000,
                promise -> generations.status().onComplete(ar -> promise.complete(ar.result())))
            .register(
                "sessions",
                STORE_TIMEOUT_MS + 1000,
                promise -> sessionStore.status().onComplete(ar -> promise.complete(ar.result())))
            .register(
                "draining",
                promise ->
                    promise.complete(
                        draining.get()
                            ? Status.KO(new JsonObject().put("draining", true))
                            : Status.OK()));
  }

  /**
   * Up while the node is in a cluster (it counts itself, so a node split off alone is still up:
   * telling that apart needs the expected size, which tokenbus does not know); down, never an
   * error, when the cluster manager cannot say.
   */
  private static Status cluster(IntSupplier members) {
    if (members == null) {
      return Status.OK(new JsonObject().put("clustered", false));
    }
    int count;
    try {
      count = members.getAsInt();
    } catch (RuntimeException e) {
      count = -1;
    }
    JsonObject data = new JsonObject().put("clustered", true);
    return count > 0 ? Status.OK(data) : Status.KO(data);
  }

  /**
   * A store's read, its answer reused for {@link #PROBE_REUSE_MS} and never two at once: a probe is
   * public, so however many arrive, a store sees about one read a second from it.
   */
  private static final class Probe {
    private final Supplier<Future<?>> read;
    private Future<Status> last;
    private long at;

    Probe(Supplier<Future<?>> read) {
      this.read = read;
    }

    synchronized Future<Status> status() {
      long now = System.nanoTime();
      if (last == null || last.isComplete() && now - at > PROBE_REUSE_MS * 1_000_000) {
        at = now;
        last = answered(read.get());
      }
      return last;
    }

    /** Up once {@code read} completes in time, whatever it found; down on a failure or timeout. */
    private static Future<Status> answered(Future<?> read) {
      return read.timeout(STORE_TIMEOUT_MS, TimeUnit.MILLISECONDS)
          .transform(
              ar ->
                  Future.succeededFuture(
                      ar.succeeded()
                          ? Status.OK()
                          : Status.KO(
                              new JsonObject()
                                  .put("error", ar.cause().getClass().getSimpleName()))));
    }
  }

  /**
   * Adds the {@code history} check: always up (the database is shared by every node, so taking this
   * one out of rotation would help nothing, and streaming goes on without it), saying how many
   * writes wait for it and for how long, and since when it cannot be reached. Posts are refused
   * once {@code database.max-queued-writes} wait ({@code full}).
   */
  public void history(WriteQueue queue) {
    ready.register(
        "history",
        promise -> {
          JsonObject data =
              new JsonObject()
                  .put("queued_writes", queue.size())
                  .put("oldest_write_age_ms", queue.oldestAgeMillis())
                  .put("full", queue.full())
                  .put("reachable", queue.failingSinceMillis() == 0);
          if (queue.failingSinceMillis() != 0) {
            data.put("unreachable_for_ms", System.currentTimeMillis() - queue.failingSinceMillis());
          }
          promise.complete(Status.OK(data));
        });
  }

  /**
   * From now on the node is not ready: it is about to close. True the first time only, so that the
   * node is closed once however often it is asked to ({@link #closed()}).
   */
  public boolean drain() {
    return draining.compareAndSet(false, true);
  }

  /** Completed when the node has closed, by whoever drained it first. */
  public Promise<Void> closed() {
    return closed;
  }

  HealthChecks live() {
    return live;
  }

  HealthChecks ready() {
    return ready;
  }
}
