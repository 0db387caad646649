# Baton's one image: the baton binary and the sample function images, on
# Debian with containerd, runc and the CNI plugins (the workers run their
# own containerd; the orchestrator uses only the binary).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/baton ./cmd/baton \
 && /out/baton images build --root . --out /out/images

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends containerd runc containernetworking-plugins iproute2 iptables ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/baton /usr/local/bin/baton
COPY --from=build /out/images /opt/baton/images
VOLUME /var/lib/baton
EXPOSE 8080
ENTRYPOINT []
CMD ["baton", "--help"]
