using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Switchboard.Bench;

/// <summary>
/// Nchan, the nginx pub/sub module (Debian's nginx + libnginx-mod-nchan), from the config template
/// in bench/peers/nchan: memory storage (<c>nchan</c>), or Redis as the message bus between
/// Nchan servers (<c>nchan-redis</c>, the run's Redis sidecar). One master, one worker.
/// </summary>
internal sealed class NchanServer(bool redis) : ServerKind
{
    private const string ModulePath = "/usr/lib/nginx/modules/ngx_nchan_module.so";

    // Enough for 20,000 WebSocket connections plus the publisher's and Redis connections, where the
    // machine's hard limit on open files allows it (nginx cannot raise it, and says so in its log).
    private const int WantedOpenFiles = 21_000;

    public override string Name => redis ? "nchan-redis" : "nchan";

    public override bool UsesRedis => redis;

    public override string HealthPath => "/healthz";

    /// <summary>The Nchan module is installed by bench/install-peers.sh (apt).</summary>
    public override string RequiredFile(string repoRoot) => ModulePath;

    public override ProcessStartInfo StartInfo(ServerLaunch launch)
    {
        var template = File.ReadAllText(Path.Combine(launch.RepoRoot, "bench/peers/nchan/nginx.conf.template"));
        var openFiles = Math.Min(WantedOpenFiles, HardOpenFileLimit());
        var conf = Render(template, new Dictionary<string, string>
        {
            ["RUN_DIR"] = launch.RunDirectory,
            ["PORT"] = launch.Port.ToString(CultureInfo.InvariantCulture),
            ["WORKER_RLIMIT_NOFILE"] = openFiles.ToString(CultureInfo.InvariantCulture),
            // worker_connections counts every connection, listening sockets included.
            ["WORKER_CONNECTIONS"] = (openFiles - 16).ToString(CultureInfo.InvariantCulture),
            ["REDIS_URL"] = launch.RedisUrl ?? "",
        });
        var confPath = Path.Combine(launch.RunDirectory, "nginx.conf");
        File.WriteAllText(confPath, conf);
        var psi = new ProcessStartInfo(File.Exists("/usr/sbin/nginx") ? "/usr/sbin/nginx" : "nginx")
        {
            WorkingDirectory = launch.RunDirectory,
        };
        // -e: errors before the config is read go to stderr too (not /var/log/nginx).
        psi.ArgumentList.Add("-e");
        psi.ArgumentList.Add("stderr");
        psi.ArgumentList.Add("-p");
        psi.ArgumentList.Add(launch.RunDirectory + "/");
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(confPath);
        return psi;
    }

    /// <summary>
    /// With Redis, /healthz answers before the worker's Redis link is up (publishing then answers
    /// 503): a publication to a channel nobody subscribes to must succeed first.
    /// </summary>
    public override HttpRequestMessage? ReadinessProbe() =>
        redis ? new HttpRequestMessage(HttpMethod.Post, "/pub/benchprobe") { Content = Json("{}") } : null;

    public override Subscriber CreateSubscriber(int id, RunState run, string room) => new NchanSubscriber(id, run, room);

    /// <summary>The body is the message, delivered verbatim as one WebSocket text frame.</summary>
    public override HttpRequestMessage PublishRequest(string room, string payload) =>
        new(HttpMethod.Post, "/pub/" + room) { Content = Json(payload) };

    /// <summary>Fills in @NAME@ placeholders; "#redis " lines are enabled with Redis, dropped without.</summary>
    private string Render(string template, Dictionary<string, string> values)
    {
        const string Marker = "#redis ";
        var sb = new StringBuilder(template.Length);
        foreach (var raw in template.Split('\n'))
        {
            var line = raw;
            if (line.StartsWith(Marker, StringComparison.Ordinal))
            {
                if (!redis)
                {
                    continue;
                }
                line = line[Marker.Length..];
            }
            foreach (var (name, value) in values)
            {
                line = line.Replace("@" + name + "@", value, StringComparison.Ordinal);
            }
            var at = line.IndexOf('@', StringComparison.Ordinal);
            if (at >= 0 && !line.TrimStart().StartsWith('#'))
            {
                throw new InvalidOperationException($"nginx.conf.template: unknown placeholder in '{line.Trim()}'");
            }
            sb.Append(line).Append('\n');
        }
        return sb.ToString().TrimEnd('\n') + "\n";
    }

    /// <summary>The hard limit on open files (from /proc/self/limits; the server inherits it).</summary>
    private static int HardOpenFileLimit()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var parts = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return parts[1] == "unlimited" ? int.MaxValue : int.Parse(parts[1], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }
        return WantedOpenFiles;
    }
}

/// <summary>
/// Nchan's WebSocket subscriber: no handshake of its own. Nchan completes the WebSocket upgrade
/// (sends 101) only once the subscriber is in the channel's subscriber pool, so the subscriber is
/// ready when the WebSocket is open. Every message is one text frame holding the published body.
/// </summary>
internal sealed class NchanSubscriber(int id, RunState run, string channel) : Subscriber(id, run)
{
    protected override string Path => "/sub/" + channel;

    protected override Task OnOpenAsync()
    {
        MarkReady();
        return Task.CompletedTask;
    }

    protected override ValueTask OnMessageAsync(ReadOnlyMemory<byte> message)
    {
        OnPublication(message.Span);
        return ValueTask.CompletedTask;
    }
}
