package io.tokenbus;

import ch.qos.logback.classic.LoggerContext;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import io.tokenbus.auth.Authenticator;
import io.tokenbus.bus.Addresses;
import io.tokenbus.bus.BusCodec;
import io.tokenbus.cluster.EventBusConfigs;
import io.tokenbus.cluster.EventBusProbeVerticle;
import io.tokenbus.cluster.HazelcastConfigs;
import io.tokenbus.cluster.HazelcastGenerationStore;
import io.tokenbus.cluster.HazelcastSessionStore;
import io.tokenbus.cluster.HazelcastUsageCounters;
import io.tokenbus.cluster.OwnershipVerticle;
import io.tokenbus.config.ConfigException;
import io.tokenbus.config.ConfigLoader;
import io.tokenbus.config.TokenbusConfig;
import io.tokenbus.fanout.FanOut;
import io.tokenbus.feed.Board;
import io.tokenbus.feed.GenerationFeed;
import io.tokenbus.generation.GenerationHistory;
import io.tokenbus.generation.GenerationStore;
import io.tokenbus.generation.GenerationVerticle;
import io.tokenbus.generation.InMemoryGenerationStore;
import io.tokenbus.generation.ResumeGeneration;
import io.tokenbus.history.Database;
import io.tokenbus.history.DurableGenerationStore;
import io.tokenbus.history.PgHistory;
import io.tokenbus.http.Connections;
import io.tokenbus.http.GenerationClient;
import io.tokenbus.http.HttpServerVerticle;
import io.tokenbus.http.NodeHealth;
import io.tokenbus.limits.DurableUsageCounters;
import io.tokenbus.limits.InMemoryUsageCounters;
import io.tokenbus.limits.Limits;
import io.tokenbus.limits.UsageCounters;
import io.tokenbus.metrics.Metrics;
import io.tokenbus.provider.Upstreams;
import io.tokenbus.session.InMemorySessionStore;
import io.tokenbus.session.RestoringSessionStore;
import io.tokenbus.session.SessionBatch;
import io.tokenbus.session.SessionStore;
import io.tokenbus.session.Sessions;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxBuilder;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;
import io.vertx.micrometer.VertxPrometheusOptions;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts a tokenbus node: loads the configuration, starts Vert.x (clustered on Hazelcast when
 * configured), registers the event-bus codecs once, creates the node's store and fan-out, and
 * deploys the generation workers and then the HTTP verticles.
 */
public final class Tokenbus {

  /** The JDK's setting for the size of ForkJoinPool's common pool. */
  static final String COMMON_POOL_PARALLELISM =
      "java.util.concurrent.ForkJoinPool.common.parallelism";

  // Before the logger: starting logback may already use the common pool, which reads its size
  // once (see sizeCommonPool).
  static {
    sizeCommonPool();
  }

  private static final Logger LOG = LoggerFactory.getLogger(Tokenbus.class);

  /**
   * Gives ForkJoinPool's common pool at least two threads, unless the operator sized it. Hazelcast
   * runs the callbacks of its futures (every map operation's result) on that pool only when it has
   * two threads or more; with fewer, it starts a new thread for each callback, and the JDK gives
   * the pool one thread fewer than there are CPUs, so one on a two-CPU box or container. Measured
   * on two cores, a two-node cluster then started some thousand threads a second under a hundred
   * requests a second and spent about a third more CPU per request (docs/ATTACKS.md). Must run
   * before anything uses the pool: this class's static initializer runs it first of all.
   */
  static void sizeCommonPool() {
    if (System.getProperty(COMMON_POOL_PARALLELISM) == null) {
      int threads = Math.max(2, Runtime.getRuntime().availableProcessors() - 1);
      System.setProperty(COMMON_POOL_PARALLELISM, Integer.toString(threads));
    }
  }

  /** Warns if the common pool was made before {@link #sizeCommonPool} could size it. */
  private static void checkCommonPool() {
    if (ForkJoinPool.getCommonPoolParallelism() < 2) {
      LOG.warn(
          "ForkJoinPool's common pool has {} thread: Hazelcast will start a thread for every"
              + " callback of a clustered node; set -D{}=2 or more",
          ForkJoinPool.getCommonPoolParallelism(),
          COMMON_POOL_PARALLELISM);
    }
  }

  /** A running node. */
  public record Node(
      Vertx vertx,
      TokenbusConfig config,
      int port,
      FanOut fanOut,
      NodeHealth health,
      String id,
      PgHistory history) {

    /** How long a closing node waits for its history's queued writes. */
    static final long FLUSH_MS = 10_000;

    /**
     * Closes the node: not ready from now on ({@code /health/ready} answers 503), serving as before
     * for {@code http.drain-seconds}, then closed (its running generations handed over to the
     * cluster's other nodes).
     */
    public Future<Void> close() {
      Promise<Void> closed = health.closed();
      if (!health.drain()) {
        return closed.future(); // closing already: the first call's close, not a second one
      }
      long drainMs = config.http().drainSeconds() * 1000L;
      if (drainMs == 0) {
        closeVertx().onComplete(closed);
      } else {
        LOG.info(
            "draining: /health/ready answers 503 for {} s (http.drain-seconds), then the node"
                + " closes",
            config.http().drainSeconds());
        vertx.setTimer(drainMs, t -> closeVertx().onComplete(closed));
      }
      return closed.future();
    }

    /**
     * Closes Vert.x (the verticles hand their generations over, the pools close) once the history
     * has written what it accepted, for {@link #FLUSH_MS} at most.
     */
    private Future<Void> closeVertx() {
      Future<Void> flushed = history == null ? Future.succeededFuture() : history.flush(FLUSH_MS);
      return flushed.transform(v -> vertx.close());
    }
  }

  private Tokenbus() {}

  /**
   * Writes the lines still queued for stderr (logback.xml's async appender), then stops logging.
   */
  private static void stopLogging() {
    if (LoggerFactory.getILoggerFactory() instanceof LoggerContext logging) {
      logging.stop();
    }
  }

  public static void main(String[] args) {
    checkCommonPool();
    Node node;
    try {
      node = start(ConfigLoader.load(args, System.getenv())).await(120, TimeUnit.SECONDS);
    } catch (ConfigException e) {
      System.err.println("tokenbus: invalid configuration: " + e.getMessage());
      System.exit(2);
      return;
    } catch (Exception e) {
      LOG.error("tokenbus failed to start: {}", e.getMessage());
      stopLogging(); // the line is still queued (logback.xml's async appender)
      System.exit(1);
      return;
    }
    TokenbusConfig config = node.config();
    // Every line of this process names its node (a field of its own in the JSON format).
    if (LoggerFactory.getILoggerFactory() instanceof LoggerContext logging) {
      logging.putProperty("node", node.id());
    }
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  try {
                    node.close().await(config.http().drainSeconds() + 30L, TimeUnit.SECONDS);
                  } catch (Exception e) {
                    // exiting anyway
                  }
                  stopLogging();
                },
                "tokenbus-shutdown"));
    String providers =
        config.providers().entrySet().stream()
            .filter(e -> e.getValue().enabled())
            .map(
                e ->
                    e.getValue().models()
                        + " via "
                        + e.getKey()
                        + " ("
                        + e.getValue().effectiveBaseUrl()
                        + ")")
            .collect(Collectors.joining(", "));
    LOG.info(
        "tokenbus listening on {}://{}:{} over {} (models: mock{}){}, {} transport, {}",
        config.http().tls().enabled() ? "https" : "http",
        config.http().host(),
        node.port(),
        protocols(config.http()),
        providers.isEmpty() ? "" : ", " + providers,
        config.cluster().enabled()
            ? ", cluster '"
                + config.cluster().name()
                + "' as "
                + config.cluster().host()
                + ":"
                + config.cluster().port()
            : "",
        node.vertx().isNativeTransportEnabled() ? "epoll" : "NIO",
        Authenticator.describe(config.auth()));
    if (config.auth().open()) {
      LOG.warn(
          "auth.mode is open: anyone who reaches {}:{} may use the API, and its upstreams, without"
              + " a key",
          config.http().host(),
          node.port());
    }
  }

  /** What the API's port speaks, for the start-up line. */
  private static String protocols(TokenbusConfig.Http http) {
    if (http.tls().enabled()) {
      return "HTTP/2 and HTTP/1.1 (ALPN)";
    }
    return http.h2c() ? "HTTP/1.1 and h2c" : "HTTP/1.1";
  }

  /**
   * Starts a node: a plain {@link Vertx} with the in-memory store, or, with {@code
   * cluster.enabled}, a clustered one on Hazelcast with the replicated store. Completes once it
   * serves.
   */
  public static Future<Node> start(TokenbusConfig config) {
    Metrics metrics = Metrics.create(config.metrics());
    if (!config.cluster().enabled()) {
      Vertx vertx = builder(vertxOptions(), metrics).build();
      return deploy(
              vertx,
              config,
              inMemoryStore(vertx, config),
              sessionStore(vertx, config),
              new InMemoryUsageCounters(),
              UUID.randomUUID().toString(),
              null,
              metrics)
          .onFailure(e -> vertx.close());
    }
    if (config.cluster().secret().isEmpty()) {
      LOG.warn(
          "cluster.insecure is true and no cluster.secret is set: any process that reaches {}:{}"
              + " and knows the cluster name joins as a member and reads every generation and"
              + " session",
          config.cluster().host(),
          config.cluster().port());
    }
    HazelcastClusterManager manager =
        new HazelcastClusterManager(HazelcastConfigs.build(config.cluster()));
    EventBusOptions eventBus = EventBusConfigs.build(config.cluster());
    LOG.info("event bus between nodes: {}", EventBusConfigs.describe(config.cluster().tls()));
    VertxOptions options = vertxOptions().setEventBusOptions(eventBus);
    return builder(options, metrics)
        .withClusterManager(manager)
        .buildClustered()
        .compose(
            vertx -> {
              HazelcastGenerationStore store =
                  new HazelcastGenerationStore(
                      vertx,
                      manager.getHazelcastInstance(),
                      config.generation().retentionSeconds(),
                      config.generation().maxRetained(),
                      config.generation().maxRetainedBytes(),
                      manager.getNodeId());
              HazelcastSessionStore sessionStore =
                  new HazelcastSessionStore(
                      vertx,
                      manager.getHazelcastInstance(),
                      config.sessions().maxSessions(),
                      config.sessions().maxBytes(),
                      config.sessions().idleExpirySeconds(),
                      config.sessions().effectiveUnusedExpirySeconds());
              HazelcastUsageCounters counters =
                  new HazelcastUsageCounters(vertx, manager.getHazelcastInstance());
              return deploy(
                      vertx,
                      config,
                      store,
                      sessionStore,
                      counters,
                      manager.getNodeId(),
                      () ->
                          manager.isActive()
                                  && manager
                                      .getHazelcastInstance()
                                      .getLifecycleService()
                                      .isRunning()
                              ? manager.getNodes().size()
                              : -1,
                      metrics)
                  .compose(
                      node ->
                          vertx
                              .deployVerticle(new OwnershipVerticle(store, manager, 1000))
                              .map(node))
                  .compose(
                      node ->
                          vertx
                              .deployVerticle(
                                  new EventBusProbeVerticle(
                                      manager, config.cluster().tls().enabled()))
                              .map(node))
                  .onSuccess(
                      node ->
                          manager
                              .getHazelcastInstance()
                              .getCluster()
                              .addMembershipListener(
                                  new MembershipListener() {
                                    @Override
                                    public void memberAdded(MembershipEvent event) {}

                                    @Override
                                    public void memberRemoved(MembershipEvent event) {
                                      node.fanOut().resync();
                                    }
                                  }))
                  .onFailure(e -> vertx.close());
            });
  }

  /**
   * Deploys a node on {@code vertx}; completes once every verticle is ready and the port is bound.
   */
  public static Future<Node> deploy(Vertx vertx, TokenbusConfig config) {
    return deploy(vertx, config, inMemoryStore(vertx, config));
  }

  private static InMemoryGenerationStore inMemoryStore(Vertx vertx, TokenbusConfig config) {
    return new InMemoryGenerationStore(
        vertx,
        config.generation().retentionSeconds() * 1000L,
        config.generation().maxRetained(),
        config.generation().maxRetainedBytes());
  }

  /**
   * Vert.x with {@code options}, and, with metrics on, Vert.x's own metrics (HTTP server and
   * client, event bus, pools, JVM) in the node's registry.
   */
  private static VertxBuilder builder(VertxOptions options, Metrics metrics) {
    VertxBuilder builder = Vertx.builder();
    if (metrics.prometheus() != null) {
      options.setMetricsOptions(
          new MicrometerMetricsOptions()
              .setEnabled(true)
              .setJvmMetricsEnabled(true)
              .setPrometheusOptions(new VertxPrometheusOptions().setEnabled(true)));
      builder.withMetrics(new MicrometerMetricsFactory(metrics.prometheus()));
    }
    return builder.with(options);
  }

  private static SessionStore sessionStore(Vertx vertx, TokenbusConfig config) {
    return new InMemorySessionStore(
        vertx,
        config.sessions().maxSessions(),
        config.sessions().maxBytes(),
        config.sessions().idleExpirySeconds() * 1000L,
        config.sessions().effectiveUnusedExpirySeconds() * 1000L);
  }

  /**
   * One event loop per core (Vert.x would make two): nothing here blocks a loop, and with as many
   * HTTP verticles and workers as loops, each loop has one of each, so a request's generation runs
   * on the loop that took the request ({@link io.tokenbus.http.GenerationClient#start}).
   */
  private static VertxOptions vertxOptions() {
    return new VertxOptions()
        .setPreferNativeTransport(true)
        .setEventLoopPoolSize(Runtime.getRuntime().availableProcessors());
  }

  /**
   * Deploys a node on {@code vertx} over the given store. Its metrics are tokenbus's own: Vert.x's
   * come only with a Vert.x built by {@link #start}.
   */
  public static Future<Node> deploy(Vertx vertx, TokenbusConfig config, GenerationStore store) {
    return deploy(
        vertx,
        config,
        store,
        sessionStore(vertx, config),
        new InMemoryUsageCounters(),
        UUID.randomUUID().toString(),
        null,
        Metrics.create(config.metrics()));
  }

  private static Future<Node> deploy(
      Vertx vertx,
      TokenbusConfig config,
      GenerationStore store,
      SessionStore sessionStore,
      UsageCounters counters,
      String nodeId,
      IntSupplier members,
      Metrics metrics) {
    if (!config.database().enabled()) {
      return deploy(vertx, config, store, sessionStore, counters, nodeId, members, metrics, null);
    }
    // The schema first, on a thread of its own: a node that cannot reach its database does not
    // start, rather than serve what it could not keep.
    return Database.migrate(config.database())
        .compose(
            v -> {
              PgHistory history =
                  new PgHistory(vertx, config.database(), config.sessions(), store, metrics);
              return deploy(
                  vertx,
                  config,
                  new DurableGenerationStore(store, history),
                  new RestoringSessionStore(sessionStore, history),
                  new DurableUsageCounters(counters, history::usage),
                  nodeId,
                  members,
                  metrics,
                  history);
            });
  }

  /** The same, with the durable history when {@code history} is not null. */
  private static Future<Node> deploy(
      Vertx vertx,
      TokenbusConfig config,
      GenerationStore store,
      SessionStore sessionStore,
      UsageCounters counters,
      String nodeId,
      IntSupplier members,
      Metrics metrics,
      PgHistory history) {
    BusCodec.registerAll(vertx);
    BusCodec.registerSerialized(vertx, SessionBatch.class);
    BusCodec.registerLocal(vertx, ResumeGeneration.class);
    int cores = Runtime.getRuntime().availableProcessors();
    int workers = config.generation().workers() > 0 ? config.generation().workers() : cores;
    int httpInstances = config.http().instances() > 0 ? config.http().instances() : cores;
    // An owner's idle-cancel limit needs several "watched" reports within it.
    int idleCancel = config.generation().idleCancelSeconds();
    FanOut fanOut =
        new FanOut(
            vertx,
            config.viewer(),
            idleCancel > 0 ? Math.max(100, idleCancel * 1000L / 3) : 0,
            metrics);
    AtomicInteger running = new AtomicInteger();
    AtomicInteger openStreams = new AtomicInteger();
    Connections connections = Connections.of(config.http());
    LOG.info(
        "serving at most {} connections (http.max-connections{}), {} per address",
        connections.max(),
        config.http().maxConnections() == 0 ? ": 90% of the open-file limit" : "",
        config.http().maxConnectionsPerAddress() == 0
            ? "no limit"
            : config.http().maxConnectionsPerAddress());
    Set<Integer> ports = ConcurrentHashMap.newKeySet();
    // Port 0 is bound as -1: Vert.x then picks one random port shared by every instance, where
    // with 0 each instance would get a port of its own.
    int bindPort = config.http().port() == 0 ? -1 : config.http().port();
    Upstreams upstreams = new Upstreams(vertx, config, metrics);
    metrics.gauge(
        "tokenbus_sessions_active",
        "Chat sessions held on this node (in a cluster, the primary copies it holds)",
        sessionStore::localCount);
    metrics.gauge(
        "tokenbus_cluster_members",
        "Members of this node's cluster as it sees them (1 when not clustered)",
        members == null ? () -> 1 : () -> Math.max(0, members.getAsInt()));
    metrics.watchEventLoops(vertx);
    GenerationFeed feed =
        new GenerationFeed(
            vertx,
            nodeId,
            metrics,
            members == null ? () -> 1 : () -> Math.max(0, members.getAsInt()),
            connections::open,
            running::get,
            fanOut);
    Board board = new Board(vertx, store, config.websocket().maxFeedPending());
    Sessions sessions = new Sessions(vertx, sessionStore, store, config.sessions());
    if (history != null) {
      sessions.history(history);
    }
    Limits limits = new Limits(config, counters);
    sessions.starter(
        new GenerationClient(vertx, store, config.generation().placementAttempts(), limits)::start);
    Future<Authenticator> authenticator = Authenticator.create(vertx, config.auth());
    NodeHealth health = new NodeHealth(vertx, store, sessionStore, members);
    return authenticator
        .compose(
            a ->
                vertx.deployVerticle(
                    () ->
                        new GenerationVerticle(
                            config,
                            store,
                            running,
                            nodeId,
                            upstreams,
                            sessions,
                            id -> fanOut.viewers(Addresses.events(id)) > 0,
                            limits,
                            metrics,
                            feed,
                            history == null ? GenerationHistory.NONE : history),
                    new DeploymentOptions().setInstances(workers)))
        .compose(
            id ->
                vertx.deployVerticle(
                    () ->
                        new HttpServerVerticle(
                            config,
                            store,
                            fanOut,
                            upstreams,
                            sessions,
                            bindPort,
                            openStreams,
                            nodeId,
                            ports::add,
                            authenticator.result(),
                            connections,
                            limits,
                            health,
                            metrics,
                            board),
                    new DeploymentOptions().setInstances(httpInstances)))
        // After the verticles: their contexts must pair each HTTP verticle with a worker on one
        // loop, which a context made earlier would shift.
        .compose(
            id -> {
              feed.start();
              if (history != null) {
                history.start();
                health.history(history.queue());
                sessions.startCheckpoints(config.database().checkpointMs());
              }
              return board.start();
            })
        .compose(
            id ->
                ports.size() == 1
                    ? Future.succeededFuture(
                        new Node(
                            vertx,
                            config,
                            ports.iterator().next(),
                            fanOut,
                            health,
                            nodeId,
                            history))
                    : Future.failedFuture(
                        new IllegalStateException(
                            "HTTP verticle instances bound different ports: " + ports)));
  }
}
