# pgmask container image: the same Debian 12 packages and CMake build as scripts/setup and
# scripts/test, in two stages. The runtime stage has only the shared libraries pgmask links
# and runs as an unprivileged user; it writes nothing (logs go to stderr), so the root
# filesystem can be mounted read-only.
#
#   docker build -t pgmask:0.1.0 .
#   docker run --rm -p 6432:6432 -p 9187:9187 pgmask:0.1.0 serve --listen 0.0.0.0:6432 \
#     --admin 0.0.0.0:9187 --upstream db.example:5432

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config ca-certificates \
      libboost1.81-dev libabsl-dev libyaml-cpp-dev libpg-query-dev libprotobuf-c-dev \
      prometheus-cpp-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY protocol protocol
COPY policy policy
COPY proxy proxy
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPGMASK_TESTS=OFF \
 && cmake --build build --target pgmask \
 && strip build/pgmask

FROM debian:bookworm-slim
# The runtime halves of the -dev packages above (what `ldd build/pgmask` lists).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libabsl20220623 libyaml-cpp0.7 libpg-query1504.0 libprometheus-cpp-core1.0 libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 pgmask \
 && useradd --system --uid 10001 --gid pgmask --no-create-home --shell /usr/sbin/nologin pgmask
COPY --from=build /src/build/pgmask /usr/local/bin/pgmask
USER 10001:10001
EXPOSE 6432 9187
ENTRYPOINT ["/usr/local/bin/pgmask"]
CMD ["serve", "--config", "/etc/pgmask/pgmask.yaml"]
