# The tokenbus image used by docker-compose.yml: built from source, run on a JRE.
FROM maven:3.9-eclipse-temurin-17 AS build
WORKDIR /src
COPY pom.xml .
COPY server/pom.xml server/
COPY bench/pom.xml bench/
RUN mvn -q -B -pl server dependency:go-offline
COPY conf conf
COPY server/src server/src
RUN mvn -q -B -pl server package -DskipTests -Dspotless.check.skip=true

FROM eclipse-temurin:17-jre
# curl for the health check (exec form: the image's /bin/sh is dash, which has no /dev/tcp).
RUN apt-get update && apt-get install -y --no-install-recommends curl \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/target/tokenbus.jar /app/tokenbus.jar
COPY conf /app/conf
COPY bin/tokenbus /app/bin/tokenbus
ENV TOKENBUS_JAR=/app/tokenbus.jar
# A container is reached from outside itself: listen on every address, which makes an API key
# (TOKENBUS_API_KEYS) required to start, or TOKENBUS_AUTH_MODE=open to run without one on purpose.
ENV TOKENBUS_HTTP_HOST=0.0.0.0
# 8080: HTTP/SSE/WebSocket. 5701: Hazelcast. The clustered event bus uses a random port between nodes.
EXPOSE 8080 5701
HEALTHCHECK --interval=5s --timeout=3s --retries=12 \
  CMD ["curl", "--fail", "--silent", "--show-error", "--max-time", "2", "--output", "/dev/null", "http://127.0.0.1:8080/health/ready"]
# The JVM settings are bin/tokenbus's (G1, heap sized to the container, exit on OOM); JAVA_OPTS adds to them.
ENTRYPOINT ["/app/bin/tokenbus"]
