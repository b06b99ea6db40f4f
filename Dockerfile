# syntax=docker/dockerfile:1
#
# The Fender image: the sidecar agent (the entrypoint) and the sidecar
# injector (k8s/injector/deployment.yaml overrides the command). Build it
# from the repository root:
#
#   docker build -t fender:0.1.0 .
#
# Size, estimated and not measured: about 170 MiB unpacked, 55 MiB
# compressed. The Node 24 binary is 120 MiB of that and the production
# dependencies 25 MiB; the runtime stage has no shell, no package manager
# and no npm, and the TypeScript runs through Node's type stripping, so
# there is no build output, toolchain or dev dependency to ship.

ARG NODE_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# tini becomes PID 1 in the runtime stage. The kernel gives PID 1 no default
# signal actions, so a process there that has not yet installed its SIGTERM
# handler (still reading its config, say) would ignore SIGTERM until the
# kubelet's SIGKILL. tini forwards every signal to the agent, which then has
# the default actions until it installs its own drain, and tini exits with
# the agent's status. It also reaps zombies. The static build needs no libc
# of the runtime image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# --omit=dev leaves out vitest, typescript and the devDependency that brings
# a Node binary for older machines: the runtime image has its own Node 24.
# No dependency of the agent needs an install script.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${RUNTIME_IMAGE}
LABEL org.opencontainers.image.title="fender" \
      org.opencontainers.image.description="Sidecar resilience agent: a localhost egress proxy with per-host timeouts, retries, circuit breakers and a cache" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /usr/bin/tini-static /usr/bin/tini
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY bin ./bin
COPY agent ./agent
COPY control ./control
# The numeric UID of distroless `nonroot`, so that the kubelet can check
# runAsNonRoot. Nothing is written under /app, so the root filesystem can be
# read-only; the agent writes only to /var/lib/fender, an emptyDir.
USER 65532:65532
# Metrics and probes, and the webhook receiver. Egress (7700) and the
# control API (7701) listen on 127.0.0.1 only.
EXPOSE 7702 7703
# Without --config the agent reads $FENDER_CONFIG, else /etc/fender/fender.yaml.
ENTRYPOINT ["/usr/bin/tini", "--", "/nodejs/bin/node", "bin/fender.ts"]
