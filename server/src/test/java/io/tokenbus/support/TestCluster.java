package io.tokenbus.support;

import io.tokenbus.Tokenbus;
import io.tokenbus.config.ConfigLoader;
import io.tokenbus.config.TokenbusConfig;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Collectors;

/**
 * Clustered nodes in this JVM, each its own Vert.x and Hazelcast member on 127.0.0.1, on a cluster
 * name of their own so runs never meet. Nodes start one after another, as Hazelcast prefers.
 */
public final class TestCluster implements AutoCloseable {

  private final String name = "tokenbus-test-" + UUID.randomUUID();
  private final String secret = "test-secret-" + UUID.randomUUID();
  private final List<Integer> ports = new ArrayList<>();
  private final Map<Integer, Tokenbus.Node> nodes = new TreeMap<>();

  public TestCluster(int size) {
    for (int i = 0; i < size; i++) {
      ports.add(freePort());
    }
  }

  /**
   * The environment a node of this cluster starts with (what a user would set), plus {@code extra}.
   */
  public Map<String, String> env(int index, Map<String, String> extra) {
    Map<String, String> env = env(index);
    env.putAll(extra);
    return env;
  }

  /** The environment a node of this cluster starts with (what a user would set). */
  public Map<String, String> env(int index) {
    Map<String, String> env = new HashMap<>();
    env.put("TOKENBUS_HTTP_PORT", "0");
    env.put("TOKENBUS_HTTP_HOST", "127.0.0.1");
    env.put("TOKENBUS_CLUSTER", "true");
    env.put("TOKENBUS_CLUSTER_NAME", name);
    env.put("TOKENBUS_CLUSTER_SECRET", secret);
    env.put("TOKENBUS_CLUSTER_HOST", "127.0.0.1");
    env.put("TOKENBUS_CLUSTER_PORT", String.valueOf(ports.get(index)));
    env.put(
        "TOKENBUS_CLUSTER_MEMBERS",
        ports.stream().map(p -> "127.0.0.1:" + p).collect(Collectors.joining(",")));
    return env;
  }

  /** The cluster name its nodes are configured with ({@code TOKENBUS_CLUSTER_NAME}). */
  public String name() {
    return name;
  }

  /** The secret its nodes hold ({@code TOKENBUS_CLUSTER_SECRET}). */
  public String secret() {
    return secret;
  }

  /** Node {@code index}'s Hazelcast port. */
  public int hazelcastPort(int index) {
    return ports.get(index);
  }

  /** Node {@code index}, started in this JVM. */
  public Tokenbus.Node node(int index) {
    return nodes.get(index);
  }

  /** Starts node {@code index} in this JVM; returns its HTTP port. */
  public int start(int index) {
    return start(index, Map.of());
  }

  public int start(int index, Map<String, String> extra) {
    TokenbusConfig config = ConfigLoader.load((Path) null, env(index, extra));
    Tokenbus.Node node = Await.await(Tokenbus.start(config), 60);
    nodes.put(index, node);
    return node.port();
  }

  /** Stops node {@code index} the graceful way (as on SIGTERM). */
  public void stop(int index) {
    Tokenbus.Node node = nodes.remove(index);
    if (node != null) {
      Await.await(node.close(), 60);
    }
  }

  /**
   * A port to listen on that must be known before the node starts (Hazelcast members are listed up
   * front). Taken below the kernel's ephemeral range (32768 and up here), so no outgoing connection
   * can grab it between this check and the bind.
   */
  public static int freePort() {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    for (int attempt = 0; attempt < 100; attempt++) {
      int port = random.nextInt(20_000, 32_000);
      try (ServerSocket socket = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
        return socket.getLocalPort();
      } catch (IOException taken) {
        // try another
      }
    }
    throw new IllegalStateException("no free port in 20000-32000");
  }

  @Override
  public void close() {
    for (Tokenbus.Node node : nodes.values()) {
      try {
        Await.await(node.close(), 30);
      } catch (RuntimeException | AssertionError e) {
        // keep closing the others
      }
    }
  }
}
