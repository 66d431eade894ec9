using System.Diagnostics;
using System.Globalization;

namespace Switchboard.Bench;

/// <summary>
/// The Socket.IO 4 peer (bench/peers/socketio): in-memory adapter, or the Redis adapter
/// (<c>socketio-redis</c>: REDIS_URL points the peer at the run's Redis sidecar).
/// </summary>
internal sealed class SocketIoServer(bool redis) : ServerKind
{
    public override string Name => redis ? "socketio-redis" : "socketio";

    public override bool UsesRedis => redis;

    public override string HealthPath => "/healthz";

    public override string RequiredFile(string repoRoot) =>
        Path.Combine(repoRoot, redis
            ? "bench/peers/socketio/node_modules/@socket.io/redis-adapter/package.json"
            : "bench/peers/socketio/node_modules/socket.io/package.json");

    public override ProcessStartInfo StartInfo(ServerLaunch launch)
    {
        var dir = Path.Combine(launch.RepoRoot, "bench/peers/socketio");
        var psi = new ProcessStartInfo("node") { WorkingDirectory = dir };
        psi.ArgumentList.Add(Path.Combine(dir, "server.mjs"));
        psi.ArgumentList.Add(launch.Port.ToString(CultureInfo.InvariantCulture));
        psi.Environment["NODE_ENV"] = "production";
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

    public override Subscriber CreateSubscriber(int id, RunState run, string room) => new SocketIoSubscriber(id, run, room);

    public override HttpRequestMessage PublishRequest(string room, string payload) =>
        new(HttpMethod.Post, "/publish") { Content = Json($"{{\"room\":\"{room}\",\"data\":{payload}}}") };
}
