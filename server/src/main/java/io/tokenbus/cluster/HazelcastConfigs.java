package io.tokenbus.cluster;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.NetworkConfig;
import com.hazelcast.config.XmlConfigBuilder;
import io.tokenbus.config.ConfigException;
import io.tokenbus.config.TokenbusConfig;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Builds a node's Hazelcast configuration: conf/cluster.xml (or {@code cluster.config-file}), with
 * the cluster name, bind and advertised address, port and TCP-IP members taken from the {@code
 * cluster.*} keys. Multicast and auto-detection stay off.
 */
public final class HazelcastConfigs {

  static final String EMBEDDED = "io/tokenbus/config/cluster.xml";

  private HazelcastConfigs() {}

  public static Config build(TokenbusConfig.Cluster cluster) {
    Config config = load(cluster.configFile());
    config.setClusterName(cluster.name());
    NetworkConfig network = config.getNetworkConfig();
    network.setPort(cluster.port()).setPortAutoIncrement(false);
    network.setPublicAddress(cluster.host() + ":" + cluster.port());
    String address = resolve(cluster.host());
    config.setProperty("hazelcast.local.localAddress", address);
    config.setProperty("hazelcast.socket.bind.any", "false");
    network.getInterfaces().setEnabled(true).setInterfaces(List.of(address));
    JoinConfig join = network.getJoin();
    join.getMulticastConfig().setEnabled(false);
    join.getAutoDetectionConfig().setEnabled(false);
    List<String> members =
        cluster.memberList().isEmpty()
            ? List.of(cluster.host() + ":" + cluster.port())
            : cluster.memberList();
    join.getTcpIpConfig().setEnabled(true).setMembers(members);
    return config;
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
