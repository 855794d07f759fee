/*
 * cmd_serve.c - `tessera serve`: runs the web application and HTTP API
 * (server/, docs/cli/serve.md) until SIGTERM or SIGINT.
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "server.h"

enum { OPT_LISTEN = 1, OPT_DB, OPT_MAX_UPLOAD, OPT_THREADS, OPT_WORKERS, OPT_CERT, OPT_KEY, OPT_DATA,
       OPT_MAXCONN, OPT_PERADDR, OPT_IDLE, OPT_BODYT, OPT_PROXY, OPT_LOGDAYS, OPT_LOGROWS, OPT_OFFERS, OPT_POLICY, OPT_REWARD,
       OPT_WINDOW };

int tsr_cmd_serve(int argc, char **argv) {
  static const struct option longopts[] = {{"listen", required_argument, NULL, OPT_LISTEN},
                                           {"db", required_argument, NULL, OPT_DB},
                                           {"data-dir", required_argument, NULL, OPT_DATA},
                                           {"max-upload", required_argument, NULL, OPT_MAX_UPLOAD},
                                           {"threads", required_argument, NULL, OPT_THREADS},
                                           {"workers", required_argument, NULL, OPT_WORKERS},
                                           {"tls-cert", required_argument, NULL, OPT_CERT},
                                           {"tls-key", required_argument, NULL, OPT_KEY},
                                           {"offers", required_argument, NULL, OPT_OFFERS},
                                           {"policy", required_argument, NULL, OPT_POLICY},
                                           {"reward", required_argument, NULL, OPT_REWARD},
                                           {"decision-window", required_argument, NULL, OPT_WINDOW},
                                           {"max-connections", required_argument, NULL, OPT_MAXCONN},
                                           {"max-per-address", required_argument, NULL, OPT_PERADDR},
                                           {"idle-timeout", required_argument, NULL, OPT_IDLE},
                                           {"body-timeout", required_argument, NULL, OPT_BODYT},
                                           {"proxy-header", required_argument, NULL, OPT_PROXY},
                                           {"log-keep-days", required_argument, NULL, OPT_LOGDAYS},
                                           {"log-max-rows", required_argument, NULL, OPT_LOGROWS},
                                           {NULL, 0, NULL, 0}};
  tsr_server_config cfg;
  tsr_server_config_init(&cfg);
  int c;
  long l;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (c) {
      case OPT_LISTEN: cfg.listen = optarg; break;
      case OPT_DB: cfg.db = optarg; break;
      case OPT_DATA: cfg.data_dir = optarg; break;
      case OPT_MAX_UPLOAD:
        if (cli_parse_long("serve", "--max-upload", optarg, 1, 1L << 40, &l)) return TSR_EXIT_USAGE;
        cfg.max_upload = l;
        break;
      case OPT_THREADS:
        if (cli_parse_long("serve", "--threads", optarg, 1, 256, &l)) return TSR_EXIT_USAGE;
        cfg.threads = (unsigned)l;
        break;
      case OPT_WORKERS:
        if (cli_parse_long("serve", "--workers", optarg, 1, 64, &l)) return TSR_EXIT_USAGE;
        cfg.workers = (unsigned)l;
        break;
      case OPT_CERT: cfg.tls_cert = optarg; break;
      case OPT_KEY: cfg.tls_key = optarg; break;
      case OPT_OFFERS: cfg.offers = optarg; break;
      case OPT_POLICY: cfg.policy = optarg; break;
      case OPT_REWARD:
        if (strcmp(optarg, "binary") && strcmp(optarg, "amount"))
          return cli_usage("serve", "--reward: expected binary or amount, got '%s'", optarg);
        cfg.reward_amount = !strcmp(optarg, "amount");
        break;
      case OPT_WINDOW:
        if (cli_parse_long("serve", "--decision-window", optarg, 64, 1L << 24, &l)) return TSR_EXIT_USAGE;
        cfg.decision_window = (size_t)l;
        break;
      case OPT_MAXCONN:
        if (cli_parse_long("serve", "--max-connections", optarg, 4, 100000, &l)) return TSR_EXIT_USAGE;
        cfg.max_connections = (unsigned)l;
        break;
      case OPT_PERADDR:
        if (cli_parse_long("serve", "--max-per-address", optarg, 1, 100000, &l)) return TSR_EXIT_USAGE;
        cfg.max_per_address = (unsigned)l;
        break;
      case OPT_IDLE:
        if (cli_parse_long("serve", "--idle-timeout", optarg, 1, 3600, &l)) return TSR_EXIT_USAGE;
        cfg.idle_timeout_s = (unsigned)l;
        break;
      case OPT_BODYT:
        if (cli_parse_long("serve", "--body-timeout", optarg, 1, 86400, &l)) return TSR_EXIT_USAGE;
        cfg.body_timeout_s = (unsigned)l;
        break;
      case OPT_PROXY: cfg.proxy_header = optarg; break;
      case OPT_LOGDAYS:
        if (cli_parse_long("serve", "--log-keep-days", optarg, 1, 36500, &l)) return TSR_EXIT_USAGE;
        cfg.log_keep_days = (unsigned)l;
        break;
      case OPT_LOGROWS:
        if (cli_parse_long("serve", "--log-max-rows", optarg, 1000, 1L << 40, &l)) return TSR_EXIT_USAGE;
        cfg.log_max_rows = l;
        break;
      default: return cli_usage("serve", "unknown option");
    }
  }
  if (optind < argc) return cli_usage("serve", "unexpected argument '%s'", argv[optind]);
  if (!cfg.tls_cert != !cfg.tls_key) return cli_usage("serve", "--tls-cert and --tls-key go together");
  if (cfg.max_per_address > cfg.max_connections)
    return cli_usage("serve", "--max-per-address must not exceed --max-connections");
  char msg[1024] = "";
  int rc = tsr_server_run(&cfg, msg, sizeof msg);
  if (rc) cli_msg("%s", msg);
  return rc;
}
