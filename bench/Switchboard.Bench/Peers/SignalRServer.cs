using System.Diagnostics;

namespace Switchboard.Bench;

/// <summary>
/// The ASP.NET Core SignalR peer (bench/peers/signalr): in memory, or with the Redis backplane
/// (<c>signalr-redis</c>: REDIS_URL points the peer at the run's Redis sidecar).
/// </summary>
internal sealed class SignalRServer(bool redis) : ServerKind
{
    public override string Name => redis ? "signalr-redis" : "signalr";

    public override bool UsesRedis => redis;

    public override string HealthPath => "/healthz";

    public override string RequiredFile(string repoRoot) =>
        Path.Combine(repoRoot, "bench/peers/signalr/bin/Release/net10.0/Switchboard.Bench.SignalRPeer.dll");

    public override ProcessStartInfo StartInfo(ServerLaunch launch)
    {
        var dll = RequiredFile(launch.RepoRoot);
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = Path.GetDirectoryName(dll)! };
        psi.ArgumentList.Add(dll);
        psi.ArgumentList.Add("--urls");
        psi.ArgumentList.Add($"http://127.0.0.1:{launch.Port}");
        psi.Environment["Logging__LogLevel__Default"] = "Warning";
        // Only the "-redis" kind gets a backplane, whatever the generator's own environment says.
        if (launch.RedisUrl is { } url)
        {
            psi.Environment["REDIS_URL"] = url;
        }
        else
        {
            psi.Environment.Remove("REDIS_URL");
        }
        return psi;
    }

    public override Subscriber CreateSubscriber(int id, RunState run, string room) => new SignalRSubscriber(id, run, room);

    public override HttpRequestMessage PublishRequest(string room, string payload) =>
        new(HttpMethod.Post, "/publish") { Content = Json($"{{\"group\":\"{room}\",\"data\":{payload}}}") };
}
