# One image for every process of docker-compose.yml (approval worker, HTTP API, local CIBA provider, codec server,
# `ciba` CLI), on Node 24, the project's runtime. Build: `docker build -t ciba-temporal .`
#
# - build:   every dependency and the sources; tsc compiles the processes (tsconfig.image.json) to dist/.
# - deps:    production dependencies only, plus the few the local provider and the HTTP API run on, which are dev
#            dependencies of the npm package (it ships neither), at the versions package-lock.json holds.
# - runtime: the default: dist/ and those dependencies, no TypeScript and no dev tools, run as the unprivileged
#            `node` user (uid 1000). The command picks the process: `node dist/worker/main.js` (the default),
#            `dist/api/main.js`, `dist/provider/main.js`, `dist/devstack/codec-server-main.js`, `dist/client/cli.js`.
# test/compose.test.ts checks this file: every module dist/ requires is installed here, and the user is not root.

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx tsc -p tsconfig.image.json && cp -r provider/views dist/provider/views

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
ARG SERVICE_DEPENDENCIES="oidc-provider @koa/router fastify fastify-type-provider-zod @fastify/swagger @fastify/rate-limit"
RUN for name in $SERVICE_DEPENDENCIES; do \
      version=$(node -p "require('./package-lock.json').packages['node_modules/$name'].version") && \
      npm pkg delete "devDependencies.$name" && npm pkg set "dependencies.$name=$version" || exit 1; \
    done && \
    npm install --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/package.json ./package.json
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# /data: the provider's state (a volume in docker-compose.yml), owned by the user the processes run as.
RUN mkdir -p /data && chown node:node /data
USER node
CMD ["node", "dist/worker/main.js"]
