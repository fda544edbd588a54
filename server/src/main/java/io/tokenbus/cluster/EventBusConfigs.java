package io.tokenbus.cluster;

import io.tokenbus.config.TokenbusConfig;
import io.vertx.core.eventbus.EventBusOptions;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;

/**
 * Builds a node's clustered event-bus options from the {@code cluster.*} keys: the address and port
 * it binds and advertises, and, with {@code cluster.tls.*}, TLS with mutual authentication.
 *
 * <p>With TLS every event-bus link is TLS both ways: a node accepts a connection only from a peer
 * whose certificate the CA signed ({@link ClientAuth#REQUIRED}), and connects only to such a peer.
 * Peers are not checked by host name: nodes reach each other at the address each advertises, an IP
 * as often as not, and Vert.x's event-bus client turns host-name verification off anyway. Trust is
 * the CA's signature, so that CA must sign only tokenbus nodes.
 */
public final class EventBusConfigs {

  private EventBusConfigs() {}

  public static EventBusOptions build(TokenbusConfig.Cluster cluster) {
    EventBusOptions options =
        new EventBusOptions()
            .setHost(cluster.host())
            .setClusterPublicHost(cluster.host())
            .setPort(cluster.eventBusPort());
    if (cluster.eventBusPort() > 0) {
      options.setClusterPublicPort(cluster.eventBusPort()); // else the port it bound is advertised
    }
    TokenbusConfig.EventBusTls tls = cluster.tls();
    if (tls.enabled()) {
      options
          .setSsl(true)
          .setKeyCertOptions(
              new PemKeyCertOptions().setCertPath(tls.certPath()).setKeyPath(tls.keyPath()))
          .setTrustOptions(new PemTrustOptions().addCertPath(tls.caPath()))
          // The event bus's client trusts every server by default (EventBusOptions'
          // DEFAULT_TRUST_ALL is true): a node would then send its events to any peer that
          // merely trusts the CA.
          .setTrustAll(false)
          .setClientAuth(ClientAuth.REQUIRED);
    }
    return options;
  }

  /** What the event bus between nodes runs on, for the start-up log: paths, never key material. */
  public static String describe(TokenbusConfig.EventBusTls tls) {
    return tls.enabled()
        ? "TLS with mutual authentication (certificate "
            + tls.certPath()
            + ", CA "
            + tls.caPath()
            + "): only nodes with a certificate signed by that CA exchange events and requests"
            + " with this one; Hazelcast's own port is not covered"
        : "plain TCP (cluster.tls.* not set)";
  }
}
