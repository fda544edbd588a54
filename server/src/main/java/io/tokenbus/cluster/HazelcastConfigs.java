package io.tokenbus.cluster;

import com.hazelcast.config.AdvancedNetworkConfig;
import com.hazelcast.config.ClassFilter;
import com.hazelcast.config.Config;
import com.hazelcast.config.EndpointConfig;
import com.hazelcast.config.InterfacesConfig;
import com.hazelcast.config.JavaSerializationFilterConfig;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.SerializationConfig;
import com.hazelcast.config.ServerSocketEndpointConfig;
import com.hazelcast.config.XmlConfigBuilder;
import com.hazelcast.instance.EndpointQualifier;
import io.tokenbus.config.ConfigException;
import io.tokenbus.config.TokenbusConfig;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Builds a node's Hazelcast configuration: conf/cluster.xml (or {@code cluster.config-file}), with
 * the cluster name, bind and advertised address, port and TCP-IP members taken from the {@code
 * cluster.*} keys. Whatever the file says, the node listens for members only (no client, REST or
 * memcache endpoint), joins only members that hold the cluster secret, writes tokenbus's types with
 * its own codecs, and deserializes with Java serialization only the classes of {@link
 * #allowedClasses()}.
 */
public final class HazelcastConfigs {

  static final String EMBEDDED = "io/tokenbus/config/cluster.xml";

  private HazelcastConfigs() {}

  public static Config build(TokenbusConfig.Cluster cluster) {
    Config config = load(cluster.configFile());
    config.setClusterName(clusterName(cluster.name(), cluster.secret()));
    // Hazelcast prefixes each log line with the cluster name, which is the join credential here.
    config.setProperty("hazelcast.logging.details.enabled", "false");
    String address = resolve(cluster.host());
    config.setProperty("hazelcast.local.localAddress", address);
    config.setProperty("hazelcast.socket.bind.any", "false");
    config.setAdvancedNetworkConfig(network(cluster, address));
    serialization(config.getSerializationConfig());
    return config;
  }

  /**
   * tokenbus's serialization on {@code config}: every type it puts into Hazelcast written by its
   * own codec ({@link ClusterCodecs}), and Java serialization, which only Hazelcast's own classes
   * and the exceptions a remote call answers with still use, behind {@link #allowedClasses()}.
   */
  static SerializationConfig serialization(SerializationConfig config) {
    ClusterCodecs.register(config);
    return config.setJavaSerializationFilterConfig(serializationFilter());
  }

  /**
   * Advanced networking with one member endpoint and nothing else: a Hazelcast client (or a REST or
   * memcache call) finds no port that speaks its protocol, so it cannot connect at all.
   */
  private static AdvancedNetworkConfig network(TokenbusConfig.Cluster cluster, String address) {
    ServerSocketEndpointConfig member = new ServerSocketEndpointConfig();
    member
        .setPort(cluster.port())
        .setPortAutoIncrement(false)
        .setPublicAddress(cluster.host() + ":" + cluster.port())
        .setInterfaces(new InterfacesConfig().setEnabled(true).setInterfaces(List.of(address)));
    Map<EndpointQualifier, EndpointConfig> endpoints = new HashMap<>();
    endpoints.put(EndpointQualifier.MEMBER, member);
    AdvancedNetworkConfig network = new AdvancedNetworkConfig().setEnabled(true);
    network.setEndpointConfigs(endpoints);
    JoinConfig join = network.getJoin();
    join.getMulticastConfig().setEnabled(false);
    join.getAutoDetectionConfig().setEnabled(false);
    List<String> members =
        cluster.memberList().isEmpty()
            ? List.of(cluster.host() + ":" + cluster.port())
            : cluster.memberList();
    join.getTcpIpConfig().setEnabled(true).setMembers(members);
    return network;
  }

  /**
   * The name the members join under: with a secret, the configured name followed by an HMAC of it
   * keyed with the secret, so a member without the same secret is refused at join (Hazelcast joins
   * only members of the same cluster name) and the name does not reveal the secret. This is not
   * authentication of traffic: the name crosses the network in clear in join messages.
   */
  static String clusterName(String name, String secret) {
    if (secret == null || secret.isEmpty()) {
      return name;
    }
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      byte[] digest = mac.doFinal(("tokenbus cluster " + name).getBytes(StandardCharsets.UTF_8));
      return name + "-" + HexFormat.of().formatHex(digest, 0, 16);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is not available", e);
    }
  }

  /**
   * What a member may deserialize with Java serialization: Hazelcast's own classes, the exceptions
   * a remote call answers with (tokenbus's only one is {@link UnreadableEntryException}: its
   * records and processors have codecs), and the JDK types they hold. Anything else, such as a
   * gadget class put in a map, is refused before its code runs.
   */
  static ClassFilter allowedClasses() {
    return new ClassFilter()
        .addPrefixes("com.hazelcast.")
        // Exact packages, not their subpackages: boxes, strings, enums, exceptions and stack
        // traces; the collections tokenbus's records hold.
        .addPackages("java.lang", "java.util")
        .addClasses(
            UnreadableEntryException.class.getName(),
            "[Ljava.lang.StackTraceElement;",
            "[Ljava.lang.Object;",
            "java.util.concurrent.CancellationException",
            "java.util.concurrent.CompletionException",
            "java.util.concurrent.ExecutionException",
            "java.util.concurrent.RejectedExecutionException",
            "java.util.concurrent.TimeoutException",
            "java.io.IOException",
            "java.io.UncheckedIOException",
            "java.io.EOFException",
            "java.net.ConnectException",
            "java.net.SocketException",
            "java.net.SocketTimeoutException");
  }

  private static JavaSerializationFilterConfig serializationFilter() {
    // Defaults off: Hazelcast's default allow-list would add every class whose name starts with
    // "java" (javax.* included) and every array.
    return new JavaSerializationFilterConfig()
        .setDefaultsDisabled(true)
        .setWhitelist(allowedClasses());
  }

  private static Config load(String file) {
    try (InputStream in =
        file.isEmpty()
            ? HazelcastConfigs.class.getClassLoader().getResourceAsStream(EMBEDDED)
            : Files.newInputStream(Path.of(file))) {
      if (in == null) {
        throw new IllegalStateException(
            "embedded Hazelcast configuration " + EMBEDDED + " is missing");
      }
      return new XmlConfigBuilder(in).build();
    } catch (IOException | RuntimeException e) {
      throw new ConfigException(
          file.isEmpty() ? "cluster" : "cluster.config-file",
          "could not be used as a Hazelcast configuration: " + e.getMessage());
    }
  }

  private static String resolve(String host) {
    try {
      return InetAddress.getByName(host).getHostAddress();
    } catch (UnknownHostException e) {
      throw new ConfigException("cluster.host", "does not resolve: " + host);
    }
  }
}
