// SCIMMY (npm scimmy + scimmy-routers) as a SCIM server: an Express app over an in-memory store, on 127.0.0.1.
//   NODE_PATH=var/targets/scimmy/node_modules node tests/targets/scimmy_server.mjs PORT TOKEN
// Base URL http://127.0.0.1:PORT/scim/v2. It stops by itself when the process that started it ends.
import {randomUUID} from "node:crypto";
import {createRequire} from "node:module";
import path from "node:path";

// Packages come from the folder tests/targets/installs.py installed them into (NODE_PATH does not apply to ESM).
const require = createRequire(path.join(process.env.SCIMMY_MODULES, "noop.js"));
const express = require("express");
const SCIMMY = require("scimmy").default ?? require("scimmy");
const SCIMMYRouters = require("scimmy-routers").default ?? require("scimmy-routers");

const [port, token] = process.argv.slice(2);
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 500);

function store(type) {
    const items = new Map();
    return {
        ingress: (resource, instance) => {
            if (resource.id && !items.has(resource.id)) throw new SCIMMY.Types.Error(404, null, `${type} ${resource.id} not found`);
            const id = resource.id ?? randomUUID();
            const now = new Date().toISOString();
            const stored = {...JSON.parse(JSON.stringify(instance)), id, meta: {resourceType: type, created: items.get(id)?.meta?.created ?? now, lastModified: now}};
            if (type === "User" && [...items.values()].some(u => u.id !== id && u.userName === stored.userName))
                throw new SCIMMY.Types.Error(409, "uniqueness", `userName ${stored.userName} is taken`);
            items.set(id, stored);
            return stored;
        },
        egress: (resource) => {
            if (resource.id) {
                if (!items.has(resource.id)) throw new SCIMMY.Types.Error(404, null, `${type} ${resource.id} not found`);
                return items.get(resource.id);
            }
            const all = [...items.values()];
            return resource.filter ? resource.filter.match(all) : all;
        },
        degress: (resource) => {
            if (!items.delete(resource.id)) throw new SCIMMY.Types.Error(404, null, `${type} ${resource.id} not found`);
        },
    };
}

for (const [resource, type] of [[SCIMMY.Resources.User, "User"], [SCIMMY.Resources.Group, "Group"]]) {
    const handlers = store(type);
    SCIMMY.Resources.declare(resource).ingress(handlers.ingress).egress(handlers.egress).degress(handlers.degress);
}
SCIMMY.Resources.User.extend(SCIMMY.Schemas.EnterpriseUser, false);

const app = express();
app.use("/scim/v2", new SCIMMYRouters({
    type: "bearer",
    handler: (request) => {
        if (request.header("Authorization") !== `Bearer ${token}`) throw new Error("The bearer token is not valid");
        return "scim-client";
    },
}));
app.listen(Number(port), "127.0.0.1", () => console.log(`serving on http://127.0.0.1:${port}/scim/v2`));
