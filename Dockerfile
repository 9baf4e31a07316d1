# Images on Node 24 (the project's runtime). Build: `docker build .` (the worker) or `--target dev`.
#
# - build:  every dependency and the sources; `npm run build` compiles the npm package's entry points to lib/.
# - dev:    build as it is (TypeScript sources, dev dependencies): the local CIBA provider in docker-compose.yml.
# - worker: the default: production dependencies and the compiled lib/ only, run as the unprivileged `node` user; the
#           `ciba-worker` bin runs lib/worker/main.js (no worker/main.ts in the image), and bin/ciba.js the CLI.

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM build AS dev
RUN mkdir -p /data && chown -R node:node /src /data
USER node
CMD ["node", "--import", "tsx", "provider/main.ts"]

FROM node:24-bookworm-slim AS worker
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/lib ./lib
COPY bin/ciba.js bin/ciba-worker.js ./bin/
RUN mkdir -p /data && chown node:node /data
USER node
CMD ["node", "bin/ciba-worker.js"]
