package io.tokenbus;

import io.tokenbus.bus.LocalCodec;
import io.tokenbus.config.ConfigException;
import io.tokenbus.config.ConfigLoader;
import io.tokenbus.config.TokenbusConfig;
import io.tokenbus.fanout.FanOut;
import io.tokenbus.generation.GenerationStore;
import io.tokenbus.generation.GenerationVerticle;
import io.tokenbus.generation.InMemoryGenerationStore;
import io.tokenbus.http.HttpServerVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts a tokenbus node: loads the configuration, registers the event-bus codecs once, creates the
 * node's store and fan-out, and deploys the generation workers and then the HTTP verticles.
 */
public final class Tokenbus {

  private static final Logger LOG = LoggerFactory.getLogger(Tokenbus.class);

  /** A running node. */
  public record Node(Vertx vertx, TokenbusConfig config, int port) {

    public Future<Void> close() {
      return vertx.close();
    }
  }

  private Tokenbus() {
  }

  public static void main(String[] args) {
    TokenbusConfig config;
    try {
      config = ConfigLoader.load(args, System.getenv());
    } catch (ConfigException e) {
      System.err.println("tokenbus: invalid configuration: " + e.getMessage());
      System.exit(2);
      return;
    }
    Vertx vertx = Vertx.vertx();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        vertx.close().await(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        // exiting anyway
      }
    }, "tokenbus-shutdown"));
    deploy(vertx, config)
        .onSuccess(node -> LOG.info("tokenbus listening on http://{}:{} (models: mock{})", config.http().host(), node.port(),
            config.openai().configured() ? ", any other via " + config.openai().baseUrl() : ""))
        .onFailure(e -> {
          LOG.error("tokenbus failed to start: {}", e.getMessage());
          vertx.close().onComplete(v -> System.exit(1));
        });
  }

  /** Deploys a node on {@code vertx}; completes once every verticle is ready and the port is bound. */
  public static Future<Node> deploy(Vertx vertx, TokenbusConfig config) {
    return deploy(vertx, config, new InMemoryGenerationStore(vertx, config.generation().retentionSeconds() * 1000L));
  }

  /** Deploys a node on {@code vertx} over the given store. */
  public static Future<Node> deploy(Vertx vertx, TokenbusConfig config, GenerationStore store) {
    LocalCodec.registerAll(vertx);
    int cores = Runtime.getRuntime().availableProcessors();
    int workers = config.generation().workers() > 0 ? config.generation().workers() : cores;
    int httpInstances = config.http().instances() > 0 ? config.http().instances() : cores;
    String nodeId = UUID.randomUUID().toString();
    FanOut fanOut = new FanOut(vertx, store, config.viewer());
    AtomicInteger running = new AtomicInteger();
    AtomicInteger openStreams = new AtomicInteger();
    Set<Integer> ports = ConcurrentHashMap.newKeySet();
    // Port 0 is bound as -1: Vert.x then picks one random port shared by every instance, where
    // with 0 each instance would get a port of its own.
    int bindPort = config.http().port() == 0 ? -1 : config.http().port();
    return vertx.deployVerticle(() -> new GenerationVerticle(config, store, running, nodeId),
            new DeploymentOptions().setInstances(workers))
        .compose(id -> vertx.deployVerticle(() -> new HttpServerVerticle(config, store, fanOut, bindPort, openStreams, ports::add),
            new DeploymentOptions().setInstances(httpInstances)))
        .compose(id -> ports.size() == 1
            ? Future.succeededFuture(new Node(vertx, config, ports.iterator().next()))
            : Future.failedFuture(new IllegalStateException("HTTP verticle instances bound different ports: " + ports)));
  }
}
