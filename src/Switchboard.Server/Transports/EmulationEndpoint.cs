using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Switchboard.Auth;
using Switchboard.Channels;
using Switchboard.Protocol;
using Switchboard.Sessions;

namespace Switchboard.Server.Transports;

/// <summary>
/// Maps <c>POST /emulation</c>: the commands of an HTTP-streaming or SSE session after its
/// connect, as <c>{"session": "…", "node": "…", "data": "…"}</c> (<c>session</c> and <c>node</c>
/// from the connect result, <c>data</c> the commands in the JSON protocol as a string). The
/// session may live on any node: this one hands the commands to it, or forwards them to the node
/// named. Replies go over the session's own stream; this request is answered 204 once the
/// commands are handled here or on their way to their node.
/// </summary>
internal static class EmulationEndpoint
{
    private static readonly JsonDocumentOptions ParseOptions = new() { MaxDepth = 64, AllowDuplicateProperties = false };

    public static void MapEmulationEndpoint(this WebApplication app)
        => app.Map("/emulation", HandleAsync).ExcludeFromDescription();

    private static async Task HandleAsync(HttpContext context, Node node, IOptions<SwitchboardOptions> options, OriginList origins)
    {
        if (!CrossOrigin.Admit(context, origins, "POST"))
        {
            return;
        }
        if (context.Request.ContentType is { } type && type.StartsWith("application/octet-stream", StringComparison.OrdinalIgnoreCase))
        {
            await StreamingEndpoints.RefuseAsync(context, StatusCodes.Status415UnsupportedMediaType, "only the JSON protocol is served here").ConfigureAwait(false);
            return;
        }
        var body = await StreamingEndpoints.ReadBodyAsync(context.Request, options.Value.Client.MaxMessageBytes, context.RequestAborted).ConfigureAwait(false);
        if (body is null)
        {
            await StreamingEndpoints.RefuseAsync(context, StatusCodes.Status413PayloadTooLarge, "request body too large").ConfigureAwait(false);
            return;
        }
        if (Parse(body, out var request) is { } error)
        {
            // Refused before any session is looked at: a bad request harms no one.
            await StreamingEndpoints.RefuseAsync(context, StatusCodes.Status400BadRequest, error).ConfigureAwait(false);
            return;
        }

        if (node.FindEmulationSession(request.Session) is { } client)
        {
            await client.HandleFrameInOrderAsync(request.Data, client.Closed).ConfigureAwait(false);
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }
        if (request.Node == node.Uid)
        {
            await StreamingEndpoints.RefuseAsync(context, StatusCodes.Status404NotFound, "no such session").ConfigureAwait(false);
            return;
        }
        bool forwarded;
        try
        {
            forwarded = await node.Cluster.ForwardEmulationAsync(request.Node, request.Session, request.Data, context.RequestAborted).ConfigureAwait(false);
        }
        catch (ProtocolException)
        {
            // The engine is unreachable: the client may retry.
            context.Response.Headers.RetryAfter = "1";
            await StreamingEndpoints.RefuseAsync(context, StatusCodes.Status503ServiceUnavailable, "cannot reach the session's node now").ConfigureAwait(false);
            return;
        }
        if (!forwarded)
        {
            await StreamingEndpoints.RefuseAsync(context, StatusCodes.Status404NotFound, "no such session or node").ConfigureAwait(false);
            return;
        }
        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private readonly record struct EmulationRequest(string Session, string Node, byte[] Data);

    // Null when the body is a well-formed emulation request; otherwise a short reason.
    private static string? Parse(byte[] body, out EmulationRequest request)
    {
        request = default;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, ParseOptions);
        }
        catch (JsonException)
        {
            return "malformed JSON";
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return "expected a JSON object";
            }
            if (!root.TryGetProperty("session", out var session) || session.ValueKind != JsonValueKind.String)
            {
                return "session required";
            }
            var sessionId = session.GetString()!;
            if (!IsSessionId(sessionId))
            {
                return "malformed session";
            }
            if (!root.TryGetProperty("node", out var nodeElement) || nodeElement.ValueKind != JsonValueKind.String)
            {
                return "node required";
            }
            var nodeUid = nodeElement.GetString()!;
            if (!Guid.TryParseExact(nodeUid, "D", out _))
            {
                return "malformed node";
            }
            if (!root.TryGetProperty("data", out var data))
            {
                return "data required";
            }
            byte[] frame;
            switch (data.ValueKind)
            {
                case JsonValueKind.String:
                    // The JSON protocol's commands, newline-separated, as one string (the centrifuge client).
                    frame = Encoding.UTF8.GetBytes(data.GetString()!);
                    break;
                case JsonValueKind.Object:
                    // One command given as a JSON value.
                    frame = Encoding.UTF8.GetBytes(data.GetRawText());
                    break;
                default:
                    return "data must be a string of commands";
            }
            if (frame.Length == 0)
            {
                return "data is empty";
            }
            request = new EmulationRequest(sessionId, nodeUid, frame);
            return null;
        }
    }

    // What Client gives a session: 16 random bytes as 32 lower-case hex digits.
    private static bool IsSessionId(string value)
    {
        if (value.Length != 32)
        {
            return false;
        }
        foreach (var c in value)
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f')))
            {
                return false;
            }
        }
        return true;
    }
}
