package io.tokenbus.http;

import io.tokenbus.config.ConfigException;
import io.tokenbus.config.TokenbusConfig;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.net.PemKeyCertOptions;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.KeyManager;
import javax.net.ssl.X509KeyManager;

/**
 * What the API's port speaks: HTTP/1.1; with TLS, HTTPS and WSS, and HTTP/2 for clients that offer
 * it by ALPN; without, h2c only when {@code http.h2c} asks for it.
 */
final class Listener {

  private static final String CERT_KEY = "http.tls.cert-path";
  private static final String KEY_KEY = "http.tls.key-path";

  private Listener() {}

  /**
   * The server's protocol options. A WebSocket handshake stays an HTTP/1.1 request: a client that
   * wants one offers http/1.1 by ALPN (browsers open a connection of its own for it).
   */
  static HttpServerOptions options(TokenbusConfig.Http http) {
    HttpServerOptions options = new HttpServerOptions();
    if (http.tls().enabled()) {
      return options
          .setSsl(true)
          .setKeyCertOptions(pem(http.tls()))
          .setUseAlpn(true)
          .setAlpnVersions(List.of(HttpVersion.HTTP_2, HttpVersion.HTTP_1_1));
    }
    // Vert.x serves h2c on every plain port unless told not to.
    return options.setHttp2ClearTextEnabled(http.h2c());
  }

  private static PemKeyCertOptions pem(TokenbusConfig.Tls tls) {
    return new PemKeyCertOptions().setCertPath(tls.cert()).setKeyPath(tls.key());
  }

  /**
   * Completes once the certificate and key can be served: each parses, and the key is the
   * certificate's. Otherwise fails with a {@link ConfigException} naming the key: a key of another
   * certificate would let the node start and then fail every handshake, logging nothing. The
   * configuration has already checked that both files exist and hold PEM of the right kind.
   */
  static Future<Void> checked(Vertx vertx, TokenbusConfig.Tls tls) {
    if (!tls.enabled()) {
      return Future.succeededFuture();
    }
    return vertx.executeBlocking(
        () -> {
          Certificate leaf = certificate(tls.cert());
          PrivateKey key = privateKey(vertx, tls);
          if (!signs(key, leaf)) {
            throw new ConfigException(
                KEY_KEY,
                "holds a private key that is not the one of the certificate in "
                    + CERT_KEY
                    + " ("
                    + tls.key()
                    + ", "
                    + tls.cert()
                    + ")");
          }
          return null;
        });
  }

  /** The first certificate of the chain: the server's own. */
  private static Certificate certificate(String path) {
    try (InputStream in = Files.newInputStream(Path.of(path))) {
      Collection<? extends Certificate> chain =
          CertificateFactory.getInstance("X.509").generateCertificates(in);
      if (chain.isEmpty()) {
        throw new ConfigException(CERT_KEY, "holds no certificate: " + path);
      }
      return chain.iterator().next();
    } catch (ConfigException e) {
      throw e;
    } catch (Exception e) {
      throw new ConfigException(
          CERT_KEY, "holds a certificate that cannot be read (" + path + "): " + e.getMessage());
    }
  }

  /** The key as Vert.x reads it (PKCS#8, RSA or EC PEM); the message never holds the key. */
  private static PrivateKey privateKey(Vertx vertx, TokenbusConfig.Tls tls) {
    try {
      PemKeyCertOptions pem = pem(tls);
      String alias = pem.loadKeyStore(vertx).aliases().nextElement();
      for (KeyManager manager : pem.getKeyManagerFactory(vertx).getKeyManagers()) {
        if (manager instanceof X509KeyManager keys && keys.getPrivateKey(alias) != null) {
          return keys.getPrivateKey(alias);
        }
      }
      throw new IllegalStateException("no key manager holds it");
    } catch (Exception e) {
      throw new ConfigException(
          KEY_KEY,
          "holds a private key that cannot be read ("
              + tls.key()
              + "): "
              + e.getClass().getSimpleName()
              + (e.getMessage() == null ? "" : " " + e.getMessage()));
    }
  }

  /** True if {@code key} signs what the certificate's public key verifies; true if untestable. */
  private static boolean signs(PrivateKey key, Certificate certificate) throws Exception {
    String algorithm =
        switch (key.getAlgorithm().toUpperCase(Locale.ROOT)) {
          case "RSA" -> "SHA256withRSA";
          case "EC" -> "SHA256withECDSA";
          case "ED25519", "ED448", "EDDSA" -> key.getAlgorithm();
          default -> null;
        };
    if (algorithm == null) {
      return true; // an uncommon key type: the first handshake will tell
    }
    byte[] nonce = new byte[32];
    new SecureRandom().nextBytes(nonce);
    Signature signer = Signature.getInstance(algorithm);
    signer.initSign(key);
    signer.update(nonce);
    byte[] signature = signer.sign();
    Signature verifier = Signature.getInstance(algorithm);
    try {
      verifier.initVerify(certificate.getPublicKey());
    } catch (java.security.InvalidKeyException e) {
      return false; // a key of another type than the certificate's
    }
    verifier.update(nonce);
    return verifier.verify(signature);
  }
}
