/**
 * The approval's pure decisions (how long to wait, what an answer means, whether to ask again) live in
 * common/polling.ts, where the compact polling activity reads them too; re-exported here for the workflow's files.
 */
export * from '../common/polling';
