package io.tokenbus.support;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A certificate authority made at test time (EC P-256, valid for a day), which signs node
 * certificates, written as the PEM files {@code cluster.tls.*} names: the certificate, its PKCS#8
 * key ({@code BEGIN PRIVATE KEY}) and the CA's certificate. No key is ever committed.
 */
public final class TestCertificates {

  /** The PEM files of one node: what {@code cluster.tls.*} is set to. */
  public record NodeFiles(Path cert, Path key, Path ca) {

    /** The environment that turns event-bus TLS on with these files. */
    public Map<String, String> env() {
      Map<String, String> env = new HashMap<>();
      env.put("TOKENBUS_CLUSTER_TLS_CERT_PATH", cert.toString());
      env.put("TOKENBUS_CLUSTER_TLS_KEY_PATH", key.toString());
      env.put("TOKENBUS_CLUSTER_TLS_CA_PATH", ca.toString());
      return env;
    }
  }

  private static final AtomicLong SERIAL = new AtomicLong(System.currentTimeMillis());

  private final X500Name subject;
  private final KeyPair keys;
  private final X509Certificate certificate;
  private final Path dir;

  private TestCertificates(X500Name subject, KeyPair keys, X509Certificate certificate, Path dir) {
    this.subject = subject;
    this.keys = keys;
    this.certificate = certificate;
    this.dir = dir;
  }

  /** A new self-signed CA, {@code CN=<name>}, whose files go to {@code dir}. */
  public static TestCertificates authority(String name, Path dir) {
    KeyPair keys = keyPair();
    X500Name subject = new X500Name("CN=" + name);
    try {
      X509v3CertificateBuilder builder = builder(subject, subject, keys);
      builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
      builder.addExtension(
          Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
      return new TestCertificates(subject, keys, sign(builder, keys), dir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The CA's certificate as a PEM file: what every node of its cluster trusts. */
  public Path caFile() {
    return write(fileName("ca.crt"), pem(certificate));
  }

  /**
   * A node certificate signed by this CA, for TLS as server and as client, with its key; the node
   * trusts {@code trusted}'s certificate (usually this CA's).
   */
  public NodeFiles node(String node, TestCertificates trusted) {
    KeyPair nodeKeys = keyPair();
    try {
      X509v3CertificateBuilder builder = builder(subject, new X500Name("CN=" + node), nodeKeys);
      builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
      builder.addExtension(
          Extension.extendedKeyUsage,
          false,
          new ExtendedKeyUsage(
              new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
      return new NodeFiles(
          write(fileName(node + ".crt"), pem(sign(builder, keys))),
          write(fileName(node + ".key"), pkcs8(nodeKeys.getPrivate())),
          trusted.caFile());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private Path fileName(String file) {
    return dir.resolve(subject.toString().replace("CN=", "") + "-" + file);
  }

  private static X509v3CertificateBuilder builder(
      X500Name issuer, X500Name subject, KeyPair subjectKeys) {
    Instant now = Instant.now();
    return new JcaX509v3CertificateBuilder(
        issuer,
        BigInteger.valueOf(SERIAL.incrementAndGet()),
        Date.from(now.minus(Duration.ofMinutes(5))),
        Date.from(now.plus(Duration.ofDays(1))),
        subject,
        subjectKeys.getPublic());
  }

  private static X509Certificate sign(X509v3CertificateBuilder builder, KeyPair issuerKeys) {
    try {
      return new JcaX509CertificateConverter()
          .getCertificate(
              builder.build(
                  new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKeys.getPrivate())));
    } catch (GeneralSecurityException | OperatorCreationException e) {
      throw new IllegalStateException("cannot sign a test certificate", e);
    }
  }

  private static KeyPair keyPair() {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
      generator.initialize(new ECGenParameterSpec("secp256r1"));
      return generator.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("every Java runtime has EC P-256", e);
    }
  }

  private static String pem(X509Certificate certificate) {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter writer = new JcaPEMWriter(out)) {
      writer.writeObject(certificate);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString();
  }

  /** The key in PKCS#8, the PEM form Vert.x's PemKeyCertOptions reads for every key type. */
  private static String pkcs8(PrivateKey key) {
    return "-----BEGIN PRIVATE KEY-----\n"
        + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(key.getEncoded())
        + "\n-----END PRIVATE KEY-----\n";
  }

  private static Path write(Path file, String content) {
    try {
      return Files.writeString(file, content);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
