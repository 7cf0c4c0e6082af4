CREATE TABLE `audit` (
	`id` integer PRIMARY KEY NOT NULL,
	`ts` integer NOT NULL,
	`federation_id` text,
	`kind` text NOT NULL,
	`actor` text NOT NULL,
	`subject` text,
	`data` text NOT NULL,
	`prev_hash` text NOT NULL,
	`hash` text NOT NULL,
	`signature` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_federation` ON `audit` (`federation_id`,`id`);--> statement-breakpoint
CREATE TABLE `consents` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`federation_id` text NOT NULL,
	`institution_id` text NOT NULL,
	`consent_hash` text NOT NULL,
	`body` text NOT NULL,
	`signature` text NOT NULL,
	`status` text NOT NULL,
	`expires_at` integer NOT NULL,
	`presented_at` integer NOT NULL,
	`revoked_at` integer,
	`revoked_from_round` integer,
	`revocation` text,
	FOREIGN KEY (`federation_id`,`institution_id`) REFERENCES `institutions`(`federation_id`,`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `consents_hash` ON `consents` (`consent_hash`);--> statement-breakpoint
CREATE INDEX `consents_institution` ON `consents` (`federation_id`,`institution_id`);--> statement-breakpoint
CREATE TABLE `federations` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`spec` text NOT NULL,
	`config` text NOT NULL,
	`manifest` text NOT NULL,
	`manifest_hash` text NOT NULL,
	`policy` text NOT NULL,
	`policy_hash` text NOT NULL,
	`status` text DEFAULT 'created' NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `institutions` (
	`federation_id` text NOT NULL,
	`id` text NOT NULL,
	`name` text NOT NULL,
	`sign_public_key` text NOT NULL,
	`box_public_key` text NOT NULL,
	`fingerprint` text NOT NULL,
	`status` text DEFAULT 'active' NOT NULL,
	`enrolled_at` integer NOT NULL,
	`last_seen_at` integer,
	PRIMARY KEY(`federation_id`, `id`),
	FOREIGN KEY (`federation_id`) REFERENCES `federations`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `models` (
	`federation_id` text NOT NULL,
	`version` integer NOT NULL,
	`round` integer,
	`parent_version` integer,
	`digest` text NOT NULL,
	`spec_hash` text NOT NULL,
	`signature` text NOT NULL,
	`path` text NOT NULL,
	`bytes` integer NOT NULL,
	`created_at` integer NOT NULL,
	`card` text,
	`card_signature` text,
	PRIMARY KEY(`federation_id`, `version`),
	FOREIGN KEY (`federation_id`) REFERENCES `federations`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `participations` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`federation_id` text NOT NULL,
	`round` integer NOT NULL,
	`institution_id` text NOT NULL,
	`status` text NOT NULL,
	`samples` integer,
	`digest` text,
	`bytes` integer,
	`metrics` text,
	`code` text,
	`message` text,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`federation_id`,`round`) REFERENCES `rounds`(`federation_id`,`round`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`federation_id`,`institution_id`) REFERENCES `institutions`(`federation_id`,`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `participations_federation_round_institution` ON `participations` (`federation_id`,`round`,`institution_id`);--> statement-breakpoint
CREATE TABLE `rounds` (
	`federation_id` text NOT NULL,
	`round` integer NOT NULL,
	`state` text NOT NULL,
	`base_version` integer NOT NULL,
	`result_version` integer,
	`deadline` integer NOT NULL,
	`min_participants` integer NOT NULL,
	`selected` text NOT NULL,
	`started_at` integer NOT NULL,
	`closed_at` integer,
	`reason` text,
	`metrics` text,
	`policy_hash` text,
	`decisions` text,
	PRIMARY KEY(`federation_id`, `round`),
	FOREIGN KEY (`federation_id`) REFERENCES `federations`(`id`) ON UPDATE no action ON DELETE no action
);
